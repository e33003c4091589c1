"""De-identification against identifiers hidden where a quick profile would not look."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.pixels import apply_modality_lut

from medfed.data.deid import (
    DeidKey,
    DeidOptions,
    FindingKind,
    deidentify,
    deidentify_folder,
    find_residual_identifiers,
    verify_deidentified,
)
from medfed.data.deid.dates import shift_da
from medfed.data.ingest import SkipReason, ingest_folder
from medfed.errors import DataError

OPTIONS = DeidOptions(key=DeidKey(b"a fixed test secret of 32 bytes!"))


def _ct() -> Dataset:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    ds.PatientName, ds.PatientID = "Doe^John", "MRN12345"
    return ds


def _bare(ds: Dataset, path: Path) -> None:
    """``ds`` written as a bare dataset: no preamble, no ``DICM``, no file meta."""
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, True
    write_dataset(buffer, ds)
    path.write_bytes(buffer.getvalue())


@pytest.mark.clause("5.2c")
@pytest.mark.clause("5.6a")
def test_free_text_quoting_the_study_uid_or_date_is_emptied_and_else_refused() -> None:
    ds = _ct()
    quoted = f"see {ds.StudyInstanceUID} {ds.StudyDate}"
    ds.ContrastBolusAgent = quoted  # LO the profile keeps: only its value can tell
    result = deidentify(ds, OPTIONS)
    assert not result.dataset.ContrastBolusAgent
    result.dataset.ContrastBolusAgent = quoted
    kinds = {f.kind for f in find_residual_identifiers(result.dataset, result.originals)}
    assert FindingKind.IDENTIFYING_TEXT in kinds


@pytest.mark.clause("5.2c")
@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("AcquisitionComments", "called Dr House about Ms Smith"),
        ("StudyComments", "Ms Smith, ward 4"),
        ("PatientBirthDateInAlternativeCalendar", "2523/03/14"),
        ("RequestedProcedureComments", "ask Smith"),
        ("PlacerOrderNumberImagingServiceRequest", "ORD-778812"),
    ],
)
def test_free_text_the_profile_removes_is_removed_whatever_it_says(keyword: str, value: str) -> None:
    ds = _ct()
    setattr(ds, keyword, value)  # names no one the dataset knows: only the table removes it
    result = deidentify(ds, OPTIONS)
    assert keyword not in result.dataset
    result.dataset.add_new(pydicom.datadict.tag_for_keyword(keyword), ds[keyword].VR, value)
    kinds = {f.kind for f in find_residual_identifiers(result.dataset)}
    assert FindingKind.LISTED_ATTRIBUTE in kinds


@pytest.mark.clause("5.2c")
@pytest.mark.clause("5.6a")
@pytest.mark.filterwarnings("ignore:Invalid value for VR D")
@pytest.mark.parametrize(
    ("keyword", "value", "emptied"),
    [
        ("StudyDate", "Doe John", True),  # typed into the wrong field; Type 2, so Z: emptied
        ("SeriesDate", "00010101", False),  # too early to move back by any offset: X, removed
        ("AcquisitionDateTime", "2020AB31120000", False),  # not a date: X, removed
    ],
)
def test_a_date_that_cannot_be_shifted_is_removed_and_the_image_kept(
    keyword: str, value: str, emptied: bool
) -> None:
    ds = _ct()
    setattr(ds, keyword, value)
    result = deidentify(ds, OPTIONS)
    out = result.dataset
    assert result.unshiftable_dates == (keyword,)
    if emptied:
        assert keyword in out and not out[keyword].value
    else:
        assert keyword not in out
    assert verify_deidentified(out, result.originals).passed  # no original date survives
    assert value not in str(out)
    assert out.ContentDate != ds.ContentDate and len(out.ContentDate) == 8  # others still shifted
    assert (out.pixel_array == ds.pixel_array).all()


@pytest.mark.filterwarnings("ignore:Invalid value for VR DA")
def test_a_folder_keeps_a_file_whose_date_cannot_be_shifted_and_counts_it(tmp_path: Path) -> None:
    ds = _ct()
    ds.StudyDate = "Doe John"
    (tmp_path / "in").mkdir()
    ds.save_as(tmp_path / "in" / "a.dcm")
    report = deidentify_folder(tmp_path / "in", tmp_path / "out", OPTIONS)
    assert (report.written, report.skipped, report.unshiftable_dates) == (1, (), 1)
    assert verify_deidentified(tmp_path / "out").files_checked == 1


def test_a_shifted_date_keeps_eight_digits_before_the_year_1000() -> None:
    assert shift_da("10000115", 30) == "09991216"
    with pytest.raises(DataError, match="too early"):
        shift_da("00010105", 10)


@pytest.mark.clause("5.6a")
def test_the_verifier_checks_a_dicom_file_without_preamble(tmp_path: Path) -> None:
    _bare(_ct(), tmp_path / "bare.dcm")
    with pytest.raises(DataError, match="PatientIdentityRemoved"):
        verify_deidentified(tmp_path)
    _bare(deidentify(_ct(), OPTIONS).dataset, tmp_path / "bare.dcm")
    (tmp_path / "readme.txt").write_text("x")
    report = verify_deidentified(tmp_path)
    assert (report.files_checked, report.unchecked) == (1, ("readme.txt",))


def test_files_without_preamble_are_read_not_dropped(tmp_path: Path) -> None:
    original = _ct()
    _bare(original, tmp_path / "bare.dcm")
    (tmp_path / "notes.txt").write_text("referral letter")
    ingested = ingest_folder(tmp_path)
    (item,) = ingested.items
    assert (item.pixels == apply_modality_lut(original.pixel_array, original)).all()
    assert [(s.path, s.reason) for s in ingested.record.skipped] == [("notes.txt", SkipReason.NOT_DICOM)]
    report = deidentify_folder(tmp_path, tmp_path / "out", OPTIONS)
    assert report.written == 1 and [name for name, _ in report.skipped] == ["notes.txt"]


def test_a_folder_file_without_sop_instance_uid_is_skipped_not_a_crash(tmp_path: Path) -> None:
    ds = _ct()
    del ds.SOPInstanceUID
    (tmp_path / "in").mkdir()
    ds.save_as(tmp_path / "in" / "no-uid.dcm", enforce_file_format=False)
    _ct().save_as(tmp_path / "in" / "ok.dcm")
    report = deidentify_folder(tmp_path / "in", tmp_path / "out", OPTIONS)
    assert report.written == 1
    assert report.skipped == (("no-uid.dcm", "no SOP Instance UID"),)
    assert [p.suffix for p in (tmp_path / "out").iterdir()] == [".dcm"]  # no partial file left


@pytest.mark.clause("5.2c")
def test_private_information_in_the_file_meta_header_is_removed_and_else_refused() -> None:
    ds = _ct()
    ds.file_meta.PrivateInformationCreatorUID = "1.2.826.0.1.3680043.8.498.12345"
    ds.file_meta.PrivateInformation = b"Doe^John MRN12345"
    result = deidentify(ds, OPTIONS)
    assert "PrivateInformation" not in result.dataset.file_meta
    assert "PrivateInformationCreatorUID" not in result.dataset.file_meta
    assert not find_residual_identifiers(result.dataset, result.originals)
    result.dataset.file_meta.PrivateInformation = b"Doe^John MRN12345"  # no creator: still found
    (finding,) = find_residual_identifiers(result.dataset, result.originals)
    assert (finding.kind, finding.path) == (FindingKind.PRIVATE_TAG, "file_meta.PrivateInformation")


def test_a_datetime_is_shifted_and_loses_its_utc_offset() -> None:
    ds = _ct()
    ds.AcquisitionDateTime = "20200131123000.5+0800"
    ds.ContentTime = "123000"
    result = deidentify(ds, OPTIONS)
    assert result.date_offset_days is not None
    shifted = str(result.dataset.AcquisitionDateTime)
    assert shifted.endswith("123000.5") and not shifted.startswith("20200131")
    assert "+" not in shifted and "0800" not in shifted


@pytest.mark.clause("5.2c")
@pytest.mark.clause("5.6a")
def test_public_elements_the_dictionary_does_not_define_are_removed_and_else_refused() -> None:
    ds = _ct()
    ds.add_new(0x00089999, "UN", b"Smith^Anna")  # a name no other element gives away
    result = deidentify(ds, OPTIONS)
    assert 0x00089999 not in result.dataset
    result.dataset.add_new(0x00089999, "UN", b"Smith^Anna")
    (finding,) = find_residual_identifiers(result.dataset, result.originals)
    assert finding.kind is FindingKind.UNKNOWN_ELEMENT
