"""The verifier refuses data that still identifies someone (5.2c, 5.6a)."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from medfed.data.deid import (
    DeidKey,
    DeidOptions,
    DeidResult,
    FindingKind,
    deidentify,
    find_residual_identifiers,
    verify_deidentified,
)
from medfed.errors import DataError

pytestmark = pytest.mark.clause("5.2c", "5.6a")


def _result(name: str = "CT_small.dcm") -> DeidResult:
    ds = pydicom.dcmread(get_testdata_file(name, download=False))
    return deidentify(ds, DeidOptions(key=DeidKey(b"0123456789abcdef0123")))


def _kinds(result: DeidResult) -> set[FindingKind]:
    return {f.kind for f in find_residual_identifiers(result.dataset, result.originals)}


def test_a_raw_file_is_refused_with_a_clear_error() -> None:
    raw = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    with pytest.raises(DataError, match="de-identification incomplete"):
        verify_deidentified(raw)


def test_a_residual_name_is_caught_and_not_echoed() -> None:
    result = _result()
    result.dataset.ReferringPhysicianName = "CompressedSamples^CT1"
    with pytest.raises(DataError) as caught:
        verify_deidentified(result.dataset, result.originals)
    assert "CompressedSamples" not in str(caught.value)
    assert FindingKind.PERSON_NAME in _kinds(result)


def test_a_name_nested_in_a_sequence_is_caught() -> None:
    result = _result()
    item = Dataset()
    item.PersonName = "Nobody^Else"
    result.dataset.ContentSequence = Sequence([item])
    findings = find_residual_identifiers(result.dataset, result.originals)
    assert any(f.path == "ContentSequence[0].PersonName" for f in findings)


def test_an_original_uid_is_caught() -> None:
    result = _result()
    result.dataset.ReferencedSOPInstanceUID = next(iter(result.originals.uids))
    assert FindingKind.ORIGINAL_UID in _kinds(result)
    result.dataset.ReferencedSOPInstanceUID = "1.2.840.99999.1"
    assert FindingKind.UNMAPPED_UID in _kinds(result)


def test_a_private_tag_is_caught() -> None:
    result = _result()
    result.dataset.private_block(0x0009, "SITE", create=True).add_new(0x01, "LO", "x")
    assert FindingKind.PRIVATE_TAG in _kinds(result)


def test_an_unshifted_date_is_caught() -> None:
    source = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    result = _result()
    result.dataset.SeriesDate = source.SeriesDate
    assert _kinds(result) == {FindingKind.UNSHIFTED_DATE}


def test_dates_without_the_shift_declaration_are_caught() -> None:
    result = _result()
    result.dataset.LongitudinalTemporalInformationModified = "UNMODIFIED"
    assert FindingKind.UNDECLARED_DATE in _kinds(result)


def test_free_text_with_an_original_identifier_is_caught() -> None:
    result = _result()
    result.dataset.Manufacturer = "scanned for patient 1CT1"
    assert _kinds(result) == {FindingKind.IDENTIFYING_TEXT}


def test_a_listed_attribute_left_in_place_is_caught() -> None:
    result = _result()
    result.dataset.DeviceSerialNumber = "X"
    assert FindingKind.LISTED_ATTRIBUTE in _kinds(result)


def test_missing_identity_removed_flag_is_caught() -> None:
    result = _result()
    del result.dataset.PatientIdentityRemoved
    assert FindingKind.NOT_MARKED in _kinds(result)


def test_a_folder_with_one_bad_file_is_refused(tmp_path: Path) -> None:
    good = _result()
    good.dataset.save_as(tmp_path / "good.dcm", enforce_file_format=False)
    bad = _result("MR_small.dcm")
    bad.dataset.OperatorsName = "Smith^Ann"
    bad.dataset.save_as(tmp_path / "bad.dcm", enforce_file_format=False)
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="bad.dcm: OperatorsName"):
        verify_deidentified(tmp_path)
    (tmp_path / "bad.dcm").unlink()
    report = verify_deidentified(tmp_path)
    assert (report.files_checked, report.unchecked) == (1, ("readme.txt",))


@pytest.mark.parametrize(
    "name", ["MR_small.dcm", "rtplan.dcm", "rtstruct.dcm", "nested_priv_SQ.dcm", "test-SR.dcm"]
)
def test_shipped_samples_pass_after_deidentification(name: str) -> None:
    ds = pydicom.dcmread(get_testdata_file(name, download=False), force=True)
    result = deidentify(ds, DeidOptions(key=DeidKey(b"0123456789abcdef0123")))
    assert verify_deidentified(result.dataset, result.originals).passed
