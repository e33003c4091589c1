"""Dates, times and pixel layouts that could hide identifiers or stop a folder (5.2c, 5.6a)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from medfed.data.deid import (
    DeidKey,
    DeidOptions,
    FindingKind,
    deidentify,
    deidentify_folder,
    find_residual_identifiers,
)
from medfed.data.deid.pixels import clear_unused_bits
from medfed.errors import DataError

KEY = DeidKey(b"a fixed test secret of 32 bytes!")
BIRTH = "19500615"
pytestmark = pytest.mark.clause("5.2c", "5.6a")


def _base() -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.PatientID, ds.PatientName, ds.PatientBirthDate = "PID123", "Doe^John", BIRTH
    ds.StudyDate = "20200101"
    return ds


def _hiding() -> Dataset:
    """Dates and times whose values carry a name or another date, read back from a file."""
    ds = _base()
    ds.AcquisitionDateTime = "20200101" + BIRTH
    ds.add_new(0x0040A120, "DT", "20200101 DOE JOHN")  # DateTime, unlisted
    ds.add(DataElement(0x00181012, "LO", BIRTH))  # DateOfSecondaryCapture written as LO
    ds.add(DataElement(0x00380020, "SH", "20191231"))  # AdmittingDate written as SH
    ds.StudyTime = "DOE^JOHN"
    ds.add_new(0x00181014, "TM", BIRTH)  # TimeOfSecondaryCapture, unlisted
    ds.AcquisitionTime = "101500.25"  # a valid time: kept when dates shift
    buffer = io.BytesIO()
    ds.preamble = b"\0" * 128
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer)


def _texts(ds: Dataset) -> str:
    return " ".join(str(elem.value) for elem in ds).upper()


@pytest.mark.parametrize("shift", [True, False])
def test_no_original_date_time_or_name_survives_in_a_date_or_time(shift: bool) -> None:
    source = _hiding()
    result = deidentify(source, DeidOptions(key=KEY, shift_dates=shift))
    out = result.dataset
    for secret in (BIRTH, "20191231", "DOE", "JOHN"):
        assert secret not in _texts(out), secret
    assert "TimeOfSecondaryCapture" not in out
    assert not find_residual_identifiers(out, result.originals)
    if shift:
        assert out.AcquisitionTime == "101500.25"
        assert out.AdmittingDate and out.AdmittingDate != "20191231"  # shifted, as a date
        assert {"AcquisitionDateTime", "StudyTime", "DateTime"} <= set(result.unshiftable_dates)
    else:
        assert "AdmittingDate" not in out and "AcquisitionTime" not in out


def test_the_verifier_reads_dates_and_times_for_hidden_text() -> None:
    result = deidentify(_base(), DeidOptions(key=KEY))
    out = result.dataset
    out.AcquisitionDateTime = "20200101 DOE JOHN"
    out.StudyTime = BIRTH
    out.add(DataElement(0x00380020, "SH", "20200101"))  # the original StudyDate, as SH
    findings = {(f.kind, f.path) for f in find_residual_identifiers(out, result.originals)}
    assert (FindingKind.MALFORMED_DATE, "AcquisitionDateTime") in findings
    assert (FindingKind.MALFORMED_DATE, "StudyTime") in findings
    assert (FindingKind.UNSHIFTED_DATE, "AdmittingDate") not in findings  # another tag's date
    out.StudyDate = "20200101"
    findings = {(f.kind, f.path) for f in find_residual_identifiers(out, result.originals)}
    assert (FindingKind.UNSHIFTED_DATE, "StudyDate") in findings


def _pixels(**attributes: object) -> Dataset:
    ds = _base()
    ds.Rows, ds.Columns, ds.SamplesPerPixel = 2, 2, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.array([0xF001, 0x8002, 0x1003, 0x0004], dtype="<u2").tobytes()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


@pytest.mark.parametrize(
    "attributes",
    [{"HighBit": 3}, {"HighBit": 20}, {"HighBit": None}, {"PixelRepresentation": None}],
)
def test_an_invalid_high_bit_or_empty_representation_still_clears(
    attributes: dict[str, object],
) -> None:
    ds = _pixels(**attributes)
    assert clear_unused_bits(ds)
    assert np.frombuffer(ds.PixelData, "<u2").tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "attributes",
    [
        {"PixelRepresentation": 2},
        {"file_meta.TransferSyntaxUID": UID("1.2.3.4.5")},
        {"file_meta.TransferSyntaxUID": ""},
    ],
)
def test_a_layout_that_cannot_be_read_safely_is_a_data_error(
    attributes: dict[str, object],
) -> None:
    ds = _pixels()
    for keyword, value in attributes.items():
        target = ds.file_meta if keyword.startswith("file_meta.") else ds
        setattr(target, keyword.removeprefix("file_meta."), value)
    with pytest.raises(DataError):
        clear_unused_bits(ds)


def test_empty_pixel_data_is_left_alone() -> None:
    ds = _pixels()
    ds.PixelData = None
    assert not clear_unused_bits(ds)
    ds.PixelData = b""
    assert not clear_unused_bits(ds)


def test_a_folder_skips_a_file_whose_pixels_cannot_be_cleared(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    good, bad = _pixels(), _pixels(PixelRepresentation=2)
    for name, ds in (("good.dcm", good), ("bad.dcm", bad)):
        ds.preamble = b"\0" * 128
        pydicom.dcmwrite(tmp_path / "in" / name, ds, enforce_file_format=True)
    report = deidentify_folder(tmp_path / "in", tmp_path / "out", DeidOptions(key=KEY))
    assert report.written == 1
    assert [name for name, _ in report.skipped] == ["bad.dcm"]
    assert report.skipped[0][1].startswith("DataError: Pixel Representation")
