"""De-identification of real DICOM files under the Basic Profile (5.2c, 5.6a)."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset

from medfed.data.deid import (
    ACTIONS,
    Action,
    DeidKey,
    DeidOptions,
    deidentify,
    deidentify_folder,
    verify_deidentified,
)
from medfed.errors import ConfigError

SECRET = b"per-dataset-secret-0123456789abcdef"
pytestmark = pytest.mark.clause("5.2c", "5.6a")


def _ct() -> Dataset:
    return pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))


def _options(*, shift: bool = True) -> DeidOptions:
    return DeidOptions(key=DeidKey(SECRET), shift_dates=shift)


def _patient(patient_id: str, study_uid: str) -> Dataset:
    ds = _ct()
    ds.PatientID = patient_id
    ds.PatientName = f"Doe^{patient_id}"
    ds.StudyInstanceUID = study_uid
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{study_uid}.1"
    return ds


def test_action_table_keywords_match_the_dicom_dictionary() -> None:
    for tag, (keyword, _) in ACTIONS.items():
        assert keyword_for_tag(tag) == keyword


@pytest.mark.parametrize(
    ("keyword", "code"),
    [
        ("PatientName", "Z"),
        ("PatientID", "Z"),
        ("PatientBirthDate", "Z"),
        ("PatientSex", "Z"),
        ("PatientAge", "X"),
        ("OtherPatientIDs", "X"),
        ("InstitutionName", "X"),
        ("AccessionNumber", "Z"),
        ("StudyInstanceUID", "U"),
        ("SOPInstanceUID", "U"),
    ],
)
def test_profile_assigns_the_annex_e_code(keyword: str, code: str) -> None:
    actions = {kw: action for kw, action in ACTIONS.values()}
    assert actions[keyword] is Action(code)


@pytest.mark.parametrize("shift", [True, False])
def test_every_listed_identifier_is_removed_and_the_verifier_passes(shift: bool) -> None:
    source = _ct()
    source.PatientAddress = "1 Main Street"
    source.OperatorsName = "Smith^Ann"
    source.PerformingPhysicianName = "House^Greg"
    source.DeviceSerialNumber = "SN-998877"
    source.ImageComments = "patient CompressedSamples scanned twice"
    result = deidentify(source, _options(shift=shift))
    out = result.dataset
    report = verify_deidentified(out, result.originals)
    assert report.passed
    for keyword in (
        "OtherPatientIDsSequence",
        "PatientAge",
        "PatientAddress",
        "InstitutionName",
        "StationName",
        "OperatorsName",
        "PerformingPhysicianName",
        "DeviceSerialNumber",
        "ImageComments",
    ):
        assert keyword not in out
    assert not out.PatientName
    assert out.PatientID == result.pseudonym
    assert out.PatientIdentityRemoved == "YES"
    assert out.DeidentificationMethod
    assert not any(elem.tag.is_private for elem in out.iterall())
    assert str(out.SOPInstanceUID).startswith("2.25.")
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    if shift:
        assert out.StudyDate != source.StudyDate and len(out.StudyDate) == 8
        assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    else:
        assert not out.StudyDate and "AcquisitionDate" not in out
    assert source.PatientName == "CompressedSamples^CT1"  # the input is left untouched


def test_uids_are_remapped_consistently_across_files() -> None:
    first = deidentify(_patient("A1", "1.2.3.4"), _options()).dataset
    second = _patient("A1", "1.2.3.4")
    second.SOPInstanceUID = "1.2.3.4.99"
    second_out = deidentify(second, _options()).dataset
    assert first.StudyInstanceUID == second_out.StudyInstanceUID
    assert first.SeriesInstanceUID == second_out.SeriesInstanceUID
    assert first.SOPInstanceUID != second_out.SOPInstanceUID
    other_key = DeidOptions(key=DeidKey(b"another-secret-0123456789abcdef!"))
    assert deidentify(_patient("A1", "1.2.3.4"), other_key).dataset.StudyInstanceUID != (
        first.StudyInstanceUID
    )


def test_date_shift_is_consistent_per_patient_and_differs_between_patients() -> None:
    a1 = deidentify(_patient("A1", "1.2.3.4"), _options())
    a2 = deidentify(_patient("A1", "1.2.3.5"), _options())
    b = deidentify(_patient("B7", "1.2.3.6"), _options())
    assert a1.date_offset_days == a2.date_offset_days
    assert a1.dataset.StudyDate == a2.dataset.StudyDate
    assert a1.date_offset_days != b.date_offset_days
    assert a1.dataset.StudyDate != b.dataset.StudyDate
    assert a1.pseudonym == a2.pseudonym != b.pseudonym


def test_burned_in_annotation_is_flagged_for_exclusion(tmp_path: Path) -> None:
    ds = _ct()
    ds.BurnedInAnnotation = "YES"
    assert deidentify(ds, _options()).excluded
    assert not deidentify(_ct(), _options()).excluded
    source = tmp_path / "in"
    source.mkdir()
    ds.save_as(source / "burned.dcm")
    _ct().save_as(source / "clean.dcm")
    report = deidentify_folder(source, tmp_path / "out", _options())
    assert report.written == 1
    assert [name for name, _ in report.excluded] == ["burned.dcm"]


def test_folder_is_deidentified_with_new_names_and_non_dicom_skipped(tmp_path: Path) -> None:
    source = tmp_path / "in" / "CompressedSamples^CT1"
    source.mkdir(parents=True)
    _patient("A1", "1.2.3.4").save_as(source / "a.dcm")
    _patient("B7", "1.2.3.5").save_as(source / "b.dcm")
    _patient("B7", "1.2.3.5").save_as(source / "b-copy.dcm")
    (source / "notes.txt").write_text("not an image")
    target = tmp_path / "out"
    report = deidentify_folder(tmp_path / "in", target, _options())
    assert (report.written, report.patients) == (2, 2)
    reasons = {Path(name).name: reason for name, reason in report.skipped}
    assert set(reasons) == {"notes.txt", "b.dcm"}  # b-copy.dcm sorts first and is written
    assert reasons["b.dcm"] == "duplicate SOP Instance UID"
    assert all(p.name.startswith("2.25.") for p in target.iterdir())
    assert verify_deidentified(target).files_checked == 2


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        DeidKey(b"short")
    assert "per-dataset" not in repr(DeidKey(SECRET))
