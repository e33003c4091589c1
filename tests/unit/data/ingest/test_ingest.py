"""Ingesting a hospital folder into items and a dataset record (5.3.1)."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from medfed.data.ingest import (
    IngestOptions,
    LabelKey,
    LabelOptions,
    SkipReason,
    ingest_folder,
)
from medfed.errors import ConfigError, DataError

from .conftest import ct_slice, sample

pytestmark = pytest.mark.clause("5.3.1")


def _reasons(record) -> dict[str, SkipReason]:
    return {Path(s.path).name: s.reason for s in record.skipped}


def test_single_dicom_images_are_counted_with_checksums(tmp_path: Path, copy_sample) -> None:
    copy_sample("CT_small.dcm", tmp_path / "a" / "ct.dcm")
    copy_sample("MR_small.dcm", tmp_path / "b" / "mr")
    result = ingest_folder(tmp_path)
    record = result.record
    assert record.counts["items"] == 2 and record.counts["skipped"] == 0
    assert record.modalities == ("CT", "MR")
    assert set(record.checksums) == {"a/ct.dcm", "b/mr"}
    ct = next(item for item in result.items if item.modality == "CT")
    assert ct.pixels.shape == (128, 128)
    assert ct.spacing == pytest.approx((0.661468, 0.661468))
    assert ct.patient_id == "1CT1"
    assert ct.sha256 == record.checksums["a/ct.dcm"]
    assert json.loads(record.to_json())["shapes"] == {"128x128": 1, "64x64": 1}


def test_slices_of_one_series_become_one_sorted_volume(tmp_path: Path) -> None:
    for index, z in [(3, 10.0), (1, 0.0), (2, 5.0)]:
        ct_slice(index, z=z).save_as(tmp_path / f"slice{index}.dcm")
    (item,) = ingest_folder(tmp_path).items
    assert item.pixels.shape == (3, 128, 128)
    assert item.spacing == pytest.approx((5.0, 0.661468, 0.661468))


def test_inconsistent_slice_spacing_is_reported_not_raised(tmp_path: Path) -> None:
    for index, z in [(1, 0.0), (2, 5.0), (3, 12.0)]:
        ct_slice(index, z=z).save_as(tmp_path / f"slice{index}.dcm")
    result = ingest_folder(tmp_path)
    assert result.items == ()
    assert set(_reasons(result.record).values()) == {SkipReason.INCONSISTENT_SPACING}
    assert "5.000 to 7.000 mm" in result.record.skipped[0].detail


def test_bad_files_are_counted_with_reasons(tmp_path: Path, copy_sample) -> None:
    copy_sample("CT_small.dcm", tmp_path / "good.dcm")
    (tmp_path / "notes.txt").write_text("referral letter")
    (tmp_path / "truncated.dcm").write_bytes(sample("CT_small.dcm").read_bytes()[:2000])
    copy_sample("MR_truncated.dcm", tmp_path / "short_pixels.dcm")
    copy_sample("rtplan.dcm", tmp_path / "plan.dcm")
    copy_sample("JPEGLSNearLossless_08.dcm", tmp_path / "jls.dcm")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    record = ingest_folder(tmp_path).record
    assert record.counts["items"] == 1
    assert _reasons(record) == {
        "notes.txt": SkipReason.NOT_DICOM,
        "truncated.dcm": SkipReason.NO_PIXELS,
        "short_pixels.dcm": SkipReason.UNREADABLE,
        "plan.dcm": SkipReason.NO_PIXELS,
        "jls.dcm": SkipReason.UNSUPPORTED_COMPRESSION,
        "broken.png": SkipReason.UNREADABLE,
    }
    assert record.counts["files"] == 7
    truncated = next(s for s in record.skipped if s.path == "truncated.dcm")
    assert "truncated" in truncated.detail
    json.loads(record.to_json())


def test_nifti_volume_round_trips_with_header_spacing(tmp_path: Path) -> None:
    volume = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    image = nib.Nifti1Image(volume, affine=np.eye(4))
    image.header.set_zooms((0.8, 0.9, 2.5))
    nib.save(image, tmp_path / "case7.nii.gz")
    (item,) = ingest_folder(tmp_path, IngestOptions(modality="MR")).items
    np.testing.assert_array_equal(item.pixels, volume)
    assert item.spacing == pytest.approx((0.8, 0.9, 2.5))
    assert (item.modality, item.patient_id) == ("MR", "case7")


def test_pictures_and_medmnist_npz_are_read(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((8, 9), dtype=np.uint8)).save(tmp_path / "x1.png")
    Image.fromarray(np.zeros((8, 9, 3), dtype=np.uint8)).save(tmp_path / "x2.jpg")
    np.savez(
        tmp_path / "tiny.npz",
        train_images=np.zeros((3, 28, 28), np.uint8),
        train_labels=np.array([[0], [1], [1]]),
    )
    result = ingest_folder(tmp_path)
    assert result.record.counts["items"] == 5
    assert result.record.dims == (2, 3)
    assert [i.label for i in result.items if i.source == "tiny.npz"] == ["0", "1", "1"]


def test_labels_csv_reports_unknown_ids_and_unlabelled_images(tmp_path: Path) -> None:
    for name in ("p1", "p2", "p3"):
        Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(tmp_path / f"{name}.png")
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("case,finding\np1,normal\np2,pneumonia\nghost,normal\n")
    labels = LabelOptions(
        csv_path, id_column="case", label_column="finding", key=LabelKey.FILE_STEM
    )
    result = ingest_folder(tmp_path, IngestOptions(labels=labels))
    assert {i.patient_id: i.label for i in result.items} == {
        "p1": "normal",
        "p2": "pneumonia",
        "p3": None,
    }
    assert result.record.label_problems == {"unknown_ids": 1, "unlabelled_items": 1}
    assert result.record.counts["labelled"] == 2


def test_labels_csv_without_the_configured_column_is_a_config_error(tmp_path: Path) -> None:
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("id,label\n")
    with pytest.raises(ConfigError, match="lacks the column"):
        ingest_folder(tmp_path, IngestOptions(labels=LabelOptions(csv_path, id_column="case")))


def test_a_missing_folder_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        ingest_folder(tmp_path / "absent")
