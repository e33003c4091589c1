"""Registering hospital folders that try to leak an identifier or lose a file."""

from __future__ import annotations

import csv
import json
import secrets
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from medfed.data.deid import DeidKey
from medfed.data.ingest import LabelOptions
from medfed.data.register import RegisterOptions, redact, register_folder

KEY = DeidKey(secrets.token_bytes(32))


def _ct(k: int) -> Dataset:
    """CT_small as patient ``k``: own name, ID, UIDs and pixels."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    ds.PatientName, ds.PatientID = f"Family{k}^Given{k}", f"MRN{k:05d}"
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        setattr(ds, keyword, generate_uid())
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    pixels = np.roll(ds.pixel_array, 9 * k, axis=0).copy()
    pixels[: 4 + k, :] = 3000  # a band of its own: no two images alike
    ds.PixelData = pixels.tobytes()
    return ds


def _hospital(root: Path, n: int = 8) -> Path:
    """``n`` patients, each in a folder named after them; labels keyed by PatientID."""
    rows = []
    for k in range(n):
        folder = root / f"Family{k}_Given{k}"
        folder.mkdir(parents=True)
        _ct(k).save_as(folder / f"img_MRN{k:05d}.dcm")
        rows.append((f"MRN{k:05d}", str(k % 2)))
    csv_path = root.parent / "labels.csv"
    with csv_path.open("w", newline="") as handle:
        csv.writer(handle).writerows([("id", "label"), *rows])
    return csv_path


def _options(csv_path: Path) -> RegisterOptions:
    return RegisterOptions(
        task="breastmnist", key=KEY, labels=LabelOptions(csv_path), min_count=1,
        near_duplicate_distance=-1,
    )


def _outputs(out: Path) -> str:
    """Every text output, JSON decoded (so names in other scripts read as written)."""
    texts = [
        json.dumps(json.loads(p.read_text(encoding="utf-8")), ensure_ascii=False)
        if p.suffix == ".json" else p.read_text(encoding="utf-8")
        for p in out.iterdir() if p.suffix in (".json", ".txt")
    ]
    return "\n".join(texts)


@pytest.mark.clause("5.2c")
@pytest.mark.clause("5.6a")
def test_files_beside_the_images_in_a_patient_folder_do_not_leak_its_name(tmp_path: Path) -> None:
    csv_path = _hospital(tmp_path / "in")
    (tmp_path / "in" / "Family0_Given0" / "report_MRN00000.txt").write_text("referral")
    (tmp_path / "in" / "Family1_Given1" / "notes.txt").write_text("referral")  # same bytes
    reg = register_folder(tmp_path / "in", tmp_path / "out", _options(csv_path))
    text = _outputs(tmp_path / "out")
    for identifier in ("Family0", "Given1", "MRN00000"):
        assert identifier not in text
    # Both text files are listed, though their redacted names are equal (same bytes).
    source = reg.record["source"]
    assert source["counts"]["files"] == reg.record["counts"]["files"] == 10
    assert len(source["checksums"]) == 10
    assert [s["reason"] for s in source["skipped"]] == ["NOT_DICOM", "NOT_DICOM"]


@pytest.mark.clause("5.2c")
@pytest.mark.filterwarnings("ignore:Invalid value for VR DA")
def test_a_date_that_cannot_be_shifted_is_removed_counted_and_the_image_kept(tmp_path: Path) -> None:
    csv_path = _hospital(tmp_path / "in")
    bad = _ct(20)
    bad.PatientName, bad.PatientID, bad.StudyDate = "Concealed^Person", "MRN99999", "Concealed"
    (tmp_path / "in" / "Concealed_Person").mkdir()
    bad.save_as(tmp_path / "in" / "Concealed_Person" / "MRN99999.dcm")
    with csv_path.open("a", newline="") as handle:
        handle.write("MRN99999,1\n")
    reg = register_folder(tmp_path / "in", tmp_path / "out", _options(csv_path))
    text = _outputs(tmp_path / "out")
    for identifier in ("Concealed", "MRN99999"):
        assert identifier not in text
    assert reg.record["source"]["skipped"] == []
    assert reg.record["counts"]["kept"] == 9 and reg.cleaning.to_dict()["counts"]["corrupt"] == 0
    removed = {"files": 1, "elements": {"StudyDate": 1}}
    assert reg.record["deidentification"]["unshiftable_dates_removed"] == removed
    cleaning = json.loads((tmp_path / "out" / "cleaning.json").read_text())
    assert cleaning["deidentification"]["unshiftable_dates_removed"] == removed


@pytest.mark.clause("5.2c")
def test_names_in_other_scripts_are_redacted_from_paths(tmp_path: Path) -> None:
    csv_path = _hospital(tmp_path / "in", n=6)
    ds = _ct(7)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Yamada^Tarou=山田^太郎"
    folder = tmp_path / "in" / "山田太郎"
    folder.mkdir()
    ds.save_as(folder / "scan.dcm")
    (folder / "紹介状.txt").write_text("referral")
    with csv_path.open("a", newline="") as handle:
        handle.write("MRN00007,1\n")
    reg = register_folder(tmp_path / "in", tmp_path / "out", _options(csv_path))
    text = _outputs(tmp_path / "out")
    assert "山田" not in text and "Yamada" not in text
    assert reg.record["counts"]["kept"] == 7


def test_a_phantom_named_test_and_a_uid_of_zero_do_not_refuse_the_folder(tmp_path: Path) -> None:
    csv_path = _hospital(tmp_path / "in")
    phantom = _ct(9)
    phantom.PatientName = "Test^Phantom"
    phantom.add_new(0x00081150, "UI", "0")  # ReferencedSOPClassUID, as some QA exports write
    phantom.save_as(tmp_path / "in" / "qa.dcm")
    with csv_path.open("a", newline="") as handle:
        handle.write("MRN00009,0\n")
    # The outputs hold the words "test" (the split) and "0" (counts): neither is the phantom.
    reg = register_folder(tmp_path / "in", tmp_path / "out", _options(csv_path))
    assert reg.record["counts"]["kept"] == 9
    assert "Phantom" not in _outputs(tmp_path / "out")


def test_a_message_naming_a_patient_is_withheld() -> None:
    from medfed.data.deid import Identifiers

    redactor = redact.Redactor(Identifiers(names=frozenset({"Doe^John", "Doe", "John", "山田"})))
    assert redactor.detail("[Errno 13] Permission denied: '/in/Doe_John/1.dcm'") == redact.WITHHELD
    assert redactor.detail("cannot open /in/山田太郎/1.dcm") == redact.WITHHELD
    assert redactor.detail("Rows value of 0 is invalid") == "Rows value of 0 is invalid"
    assert redactor.name("Doe_John/notes.txt", "ab" * 32) == "redacted-abababababab"


def test_colour_frames_become_a_grey_volume_not_a_corrupt_image() -> None:
    from medfed.data.register.adapter import grey

    ds = pydicom.dcmread(get_testdata_file("SC_rgb_rle_2frame.dcm", download=False))
    frames = ds.pixel_array
    assert frames.shape == (2, 100, 100, 3)
    volume = grey(frames)
    assert volume.shape == (2, 100, 100)
    assert np.allclose(volume[1], grey(frames[1]))


def test_a_key_path_that_is_a_folder_or_an_output_that_is_a_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from medfed.cli import main

    csv_path = _hospital(tmp_path / "in", n=2)
    (tmp_path / "taken").write_text("not a folder")
    base = ["data", "register", str(tmp_path / "in"), "--task", "breastmnist", "--labels", str(csv_path)]
    assert main([*base, "--out", str(tmp_path / "out"), "--deid-key", str(tmp_path)]) == 2
    assert "cannot be read" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "taken"), "--deid-key", str(tmp_path / "k.key")]) == 2
    assert "is a file" in capsys.readouterr().err
    assert (tmp_path / "taken").read_text() == "not a folder"


@pytest.mark.clause("5.2c")
def test_an_unreadable_file_named_after_a_patient_no_other_file_names_is_redacted(tmp_path: Path) -> None:
    csv_path = _hospital(tmp_path / "in")
    folder = tmp_path / "in" / "Lonely_Patient"
    folder.mkdir()
    (folder / "MRN55555.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")  # cut short
    (folder / "letter.txt").write_text("referral")
    reg = register_folder(tmp_path / "in", tmp_path / "out", _options(csv_path))
    text = _outputs(tmp_path / "out")
    assert "Lonely" not in text and "MRN55555" not in text
    assert len(reg.record["source"]["skipped"]) == 2
    assert all(s["path"].startswith("redacted-") for s in reg.record["source"]["skipped"])
