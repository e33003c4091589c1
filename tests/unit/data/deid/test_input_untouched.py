"""De-identification works on a copy: the source dataset, its sequences and file meta stay as read."""

from __future__ import annotations

import secrets

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from medfed.data.deid import DeidKey, DeidOptions, deidentify, verify_deidentified
from medfed.data.deid._walk import values


def _source() -> Dataset:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    ds.PatientName, ds.PatientID = "Untouched^Ursula", "KEEP-ME-1"
    ref = Dataset()
    ref.ReferencedSOPInstanceUID = "1.2.3.4.5.6"
    ref.PatientName = "Nested^Name"
    ds.ReferencedImageSequence = Sequence([ref])
    ds.add_new(0x00091010, "LO", "private note")
    return ds


@pytest.mark.clause("5.2c")
def test_deidentify_leaves_its_input_as_it_was_read() -> None:
    ds = _source()
    before = ds.to_json_dict(bulk_data_threshold=10**9, bulk_data_element_handler=None)
    meta_before = ds.file_meta.to_json_dict()
    pixels = ds.pixel_array.copy()
    result = deidentify(ds, DeidOptions(key=DeidKey(secrets.token_bytes(32))))
    verify_deidentified(result.dataset, result.originals)
    assert ds.to_json_dict(bulk_data_threshold=10**9, bulk_data_element_handler=None) == before
    assert ds.file_meta.to_json_dict() == meta_before
    assert str(ds.ReferencedImageSequence[0].PatientName) == "Nested^Name"
    assert 0x00091010 in ds and 0x00091010 not in result.dataset
    assert result.dataset.ReferencedImageSequence[0].ReferencedSOPInstanceUID != "1.2.3.4.5.6"
    assert (result.dataset.pixel_array == pixels).all()


def test_pixel_data_is_not_read_as_text_but_short_unknown_values_are() -> None:
    ds = _source()
    assert values(ds["PixelData"]) == []
    ds.add_new(0x00111010, "UN", b"Hidden^Name")
    assert values(ds[0x00111010]) == ["Hidden^Name"]
