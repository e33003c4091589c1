"""Registering small folders: errors a user can fix, the identifier gate, nothing half-written."""

from __future__ import annotations

import csv
import json
import secrets
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from medfed.data import load_local_dataset
from medfed.data.deid import DeidKey
from medfed.data.ingest import LabelKey, LabelOptions
from medfed.data.register import (
    CLEANING_FILE,
    DATA_FILE,
    RECORD_FILE,
    RegisterOptions,
    register_folder,
)
from medfed.data.register import read as read_module
from medfed.data.register.redact import Redactor
from medfed.errors import ConfigError, DataError

KEY = DeidKey(secrets.token_bytes(32))


def _pictures(root: Path, n: int = 12, *, size: int = 40) -> Path:
    """``n`` distinct PNG images case000.png ... with labels.csv keyed by file name."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for k in range(n):
        coarse = rng.integers(0, 255, (4, 4)).astype(np.uint8)
        image = np.kron(coarse, np.ones((size // 4, size // 4), dtype=np.uint8))
        Image.fromarray(image).save(root / f"case{k:03d}.png")
        rows.append((f"case{k:03d}", str(k % 2)))
    with (root / "labels.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("id", "label"), *rows])
    return root / "labels.csv"


def _options(csv_path: Path | None, **changes) -> RegisterOptions:
    labels = LabelOptions(csv_path, key=LabelKey.FILE_STEM) if csv_path else None
    return RegisterOptions(task="breastmnist", key=KEY, labels=labels, **changes)


@pytest.mark.clause("5.3.1")
def test_an_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    with pytest.raises(DataError, match="holds no files"):
        register_folder(tmp_path / "in", tmp_path / "out", _options(None))
    assert not (tmp_path / "out").exists()


@pytest.mark.clause("5.3.1")
def test_a_labels_csv_matching_no_image_is_a_clear_error(tmp_path: Path) -> None:
    csv_path = _pictures(tmp_path / "in")
    other = tmp_path / "other.csv"
    other.write_text("id,label\nsomeone-else,1\n")
    with pytest.raises(DataError, match="matches none of the 12 images"):
        register_folder(tmp_path / "in", tmp_path / "out", _options(other))
    assert csv_path.is_file() and not (tmp_path / "out").exists()


def test_labels_outside_the_task_classes_are_listed(tmp_path: Path) -> None:
    csv_path = _pictures(tmp_path / "in")
    csv_path.write_text(csv_path.read_text().replace(",1\n", ",cancer\n"))
    with pytest.raises(DataError, match="'cancer'.*use 0..1 or one of 'malignant'"):
        register_folder(tmp_path / "in", tmp_path / "out", _options(csv_path))


def test_a_csv_without_the_id_column_is_a_config_error(tmp_path: Path) -> None:
    _pictures(tmp_path / "in")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("patient,label\ncase000,1\n")
    with pytest.raises(ConfigError, match="lacks the column"):
        register_folder(tmp_path / "in", tmp_path / "out", _options(wrong))


def test_an_output_folder_inside_the_input_is_refused(tmp_path: Path) -> None:
    csv_path = _pictures(tmp_path / "in")
    with pytest.raises(ConfigError, match="must not lie inside"):
        register_folder(tmp_path / "in", tmp_path / "in" / "registered", _options(csv_path))


def test_an_unknown_task_or_size_is_refused() -> None:
    with pytest.raises(DataError, match="unknown MedMNIST subset"):
        RegisterOptions(task="nosuchmnist", key=KEY)
    with pytest.raises(ConfigError, match="target size"):
        RegisterOptions(task="breastmnist", key=KEY, size=30)
    with pytest.raises(ConfigError, match="feature table"):
        RegisterOptions(task="breast_cancer", key=KEY)


@pytest.mark.clause("5.3.1", "5.3.3.2c", "5.3.3.2d")
def test_pictures_register_into_a_node_data_file_at_64_pixels(tmp_path: Path) -> None:
    csv_path = _pictures(tmp_path / "in", n=20)
    reg = register_folder(tmp_path / "in", tmp_path / "out", _options(csv_path, size=64, seed=3))
    data = load_local_dataset(reg.data_file)
    assert (data.flag, data.size, data.train.images.shape[1:]) == ("breastmnist", 64, (64, 64))
    record = json.loads((tmp_path / "out" / RECORD_FILE).read_text())
    assert record["counts"]["kept"] == 20 and record["counts"]["patients"] == 20
    # File names were the patients' IDs: the record shows neither them nor the paths.
    text = (tmp_path / "out" / RECORD_FILE).read_text()
    assert "case0" not in text and "redacted-" in text
    register_folder(tmp_path / "in", tmp_path / "again", _options(csv_path, size=64, seed=3))
    assert json.loads((tmp_path / "again" / RECORD_FILE).read_text())["checksums"] == record["checksums"]


@pytest.mark.clause("5.3.3.2b")
def test_volumes_are_dropped_as_wrong_dimensions_for_a_2d_task(tmp_path: Path) -> None:
    import nibabel as nib

    csv_path = _pictures(tmp_path / "in")
    volume = np.random.default_rng(1).integers(0, 255, (8, 32, 32)).astype(np.int16)
    nib.save(nib.Nifti1Image(volume, np.eye(4)), tmp_path / "in" / "vol.nii.gz")
    with csv_path.open("a") as handle:
        handle.write("vol,1\n")
    reg = register_folder(tmp_path / "in", tmp_path / "out", _options(csv_path))
    report = json.loads((tmp_path / "out" / CLEANING_FILE).read_text())
    assert report["clean"]["counts"]["wrong_dimensions"] == 1
    assert reg.record["counts"]["kept"] == 12


def _dicom_folder(root: Path, n: int = 6) -> Path:
    root.mkdir(parents=True)
    base = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    rows = []
    for k in range(n):
        ds = base.copy()
        ds.PatientName, ds.PatientID = f"Gatekeeper^Tess{k}", f"GATE{k:03d}"
        ds.SeriesInstanceUID = pydicom.uid.generate_uid()
        pixels = np.roll(base.pixel_array, 17 * k, axis=k % 2)
        ds.PixelData = np.ascontiguousarray(pixels).tobytes()
        ds.save_as(root / f"{k}.dcm")
        rows.append(f"GATE{k:03d},{k % 2}")
    (root / "labels.csv").write_text("id,label\n" + "\n".join(rows) + "\n")
    return root / "labels.csv"


@pytest.mark.clause("5.2c", "5.6a")
def test_registration_is_refused_when_de_identification_leaves_an_identifier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv_path = _dicom_folder(tmp_path / "in")
    real = read_module.deidentify

    def leaky(ds, options):
        result = real(ds, options)
        result.dataset.InstitutionName = str(ds.PatientID)  # a profile that missed something
        return result

    monkeypatch.setattr(read_module, "deidentify", leaky)
    # One process: worker processes import the module afresh and would not see the patch.
    options = RegisterOptions(task="pneumoniamnist", key=KEY, labels=LabelOptions(csv_path), workers=1)
    with pytest.raises(DataError, match="refusing to register: de-identification left .*InstitutionName"):
        register_folder(tmp_path / "in", tmp_path / "out", options)
    assert not (tmp_path / "out").exists()


@pytest.mark.clause("5.2c", "5.6a")
def test_a_failed_registration_keeps_the_previous_dataset_whole(tmp_path: Path) -> None:
    csv_path = _dicom_folder(tmp_path / "in")
    options = RegisterOptions(task="pneumoniamnist", key=KEY, labels=LabelOptions(csv_path))
    register_folder(tmp_path / "in", tmp_path / "out", options)
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    (tmp_path / "in" / "labels.csv").write_text("id,label\nGATE000,7\n")
    with pytest.raises(DataError):
        register_folder(tmp_path / "in", tmp_path / "out", options)
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
    assert load_local_dataset(tmp_path / "out" / DATA_FILE).flag == "pneumoniamnist"


def test_the_output_scan_matches_whole_tokens_not_words_inside_words() -> None:
    from medfed.data.deid import Identifiers

    originals = Identifiers(names=frozenset({"Ann", "Lee^Ann"}), ids=frozenset({"MRN7", "ID-55-X"}),
                            dates=frozenset({(0x00080020, "20240101")}))
    redactor = Redactor(originals, {"scans/ID-55-X_img.dcm": Identifiers(ids=frozenset({"ID-55-X"}))})
    assert redactor.kinds_in('{"burned_in_annotation": 1, "planned": 2}') == []
    assert redactor.kinds_in('{"who": "ann"}') == ["name"]
    assert redactor.kinds_in("Lee^Ann") == ["name"]
    assert redactor.kinds_in("x MRN7 20240101") == ["id", "date"]
    assert redactor.name("ann/1.dcm", "ab" * 32) == "redacted-abababababab"
    assert redactor.name("scans/ID-55-X_img.dcm", "cd" * 32).startswith("redacted-")  # its own ID
    assert redactor.name("scans/other.dcm", "ef" * 32) == "scans/other.dcm"


@pytest.mark.clause("5.3.3.2b")
def test_images_of_one_npz_file_are_told_apart_by_their_pixels(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    images = np.stack([np.kron(rng.integers(0, 255, (4, 4)), np.ones((7, 7))) for _ in range(10)]).astype(np.uint8)
    images = np.concatenate([images, images[:1]])  # the first image twice
    (tmp_path / "in").mkdir()
    np.savez(tmp_path / "in" / "set.npz", train_images=images, train_labels=(np.arange(11) % 2)[:, None])
    reg = register_folder(tmp_path / "in", tmp_path / "out", _options(None, near_duplicate_distance=-1))
    assert reg.cleaning.counts()["exact_duplicate"] == 1 and len(reg.cleaning.kept) == 10


@pytest.mark.clause("5.3.1", "5.3.3.2c")
def test_dicom_series_register_as_volumes_for_a_3d_task(tmp_path: Path) -> None:
    from tests.unit.data.ingest.conftest import ct_slice

    (tmp_path / "in").mkdir()
    rows = ["id,label"]
    for p in range(4):
        series = f"1.2.826.0.1.77.{p}"
        for k in range(6):
            ds = ct_slice(k, z=2.5 * k, series=series)
            ds.PatientID, ds.PatientName = f"VOL{p:03d}", f"Volume^Patient{p}"
            ds.PixelData = np.roll(ds.pixel_array, 9 * p + k, axis=1).tobytes()
            ds.save_as(tmp_path / "in" / f"s{p}_{k}.dcm")
        rows.append(f"VOL{p:03d},{p % 2}")
    (tmp_path / "in" / "labels.csv").write_text("\n".join(rows) + "\n")
    options = RegisterOptions(
        task="nodulemnist3d", key=KEY, labels=LabelOptions(tmp_path / "in" / "labels.csv"),
        fractions=(0.5, 0.5, 0.0),
    )
    reg = register_folder(tmp_path / "in", tmp_path / "out", options)
    data = load_local_dataset(reg.data_file)
    assert data.dims == 3 and data.train.images.shape[1:] == (28, 28, 28)
    assert reg.record["counts"]["kept"] == 4 and reg.record["source"]["shapes"] == {"6x128x128": 4}
