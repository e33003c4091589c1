"""A patient whose name is a word the outputs use anyway (a class name) does not refuse the
folder; the same word coming from the patient's own files still does (5.2c, 5.2d)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from medfed.data.ingest import LabelOptions
from medfed.data.register import RegisterOptions, register_folder
from medfed.errors import DataError
from tests.unit.data.register.test_register_adversarial import KEY, _ct, _outputs


def _pneumonia_ward(root: Path, n: int = 8, *, modality: str = "CT") -> Path:
    """``n`` patients of pneumoniamnist (classes "normal" and "pneumonia"); patient 0 is
    called Normal^Jane with ID NORMAL, and patient 1's scans say Modality ``modality``."""
    root.mkdir(parents=True)
    rows = []
    for k in range(n):
        ds = _ct(k)
        if k == 0:
            ds.PatientName, ds.PatientID = "Normal^Jane", "NORMAL"
        if k == 1:
            ds.Modality = modality
        ds.save_as(root / f"{k}.dcm")
        rows.append((str(ds.PatientID), "normal" if k % 2 else "pneumonia"))
    csv_path = root.parent / "labels.csv"
    with csv_path.open("w", newline="") as handle:
        csv.writer(handle).writerows([("id", "label"), *rows])
    return csv_path


def _options(csv_path: Path) -> RegisterOptions:
    return RegisterOptions(
        task="pneumoniamnist", key=KEY, labels=LabelOptions(csv_path), min_count=1,
        near_duplicate_distance=-1,
    )


@pytest.mark.clause("5.2c", "5.2d")
def test_a_patient_named_like_a_class_does_not_refuse_the_folder(tmp_path: Path) -> None:
    csv_path = _pneumonia_ward(tmp_path / "in")
    reg = register_folder(tmp_path / "in", tmp_path / "out", _options(csv_path))
    assert reg.record["counts"]["kept"] == 8
    text = _outputs(tmp_path / "out")
    assert "normal" in (tmp_path / "out" / "datacard.txt").read_text()  # the class, as before
    assert "Jane" not in text and "Normal^Jane" not in text


@pytest.mark.clause("5.2c")
@pytest.mark.parametrize("modality", ["JANE", "NORMAL"])
def test_the_same_word_taken_from_the_files_is_still_refused_with_a_fix(
    tmp_path: Path, modality: str
) -> None:
    # A Modality value is copied to the data card: a patient's name there is a leak, even
    # when it is also a class name.
    csv_path = _pneumonia_ward(tmp_path / "in", modality=modality)
    with pytest.raises(DataError) as caught:
        register_folder(tmp_path / "in", tmp_path / "out", _options(csv_path))
    message = str(caught.value)
    assert "refusing to register" in message and "modalities" in message
    assert "rename the files or folders" in message
    assert modality not in message and "Jane" not in message
    assert not (tmp_path / "out" / "record.json").exists()
