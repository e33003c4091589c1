"""Overlays drawn in the unused high bits of Pixel Data are cleared (5.2c, 5.6a)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from medfed.data.deid import (
    DeidKey,
    DeidOptions,
    FindingKind,
    deidentify,
    deidentify_folder,
    find_residual_identifiers,
    verify_deidentified,
)

OPTIONS = DeidOptions(key=DeidKey(b"a fixed test secret of 32 bytes!"))
pytestmark = pytest.mark.clause("5.2c", "5.6a")


def _overlay_plane(shape: tuple[int, ...]) -> np.ndarray:
    """A checkerboard of 0/1: the graphics a legacy overlay plane draws."""
    return (np.indices(shape).sum(axis=0) // 4 % 2).astype(np.uint16)


def _twelve_bit(name: str, *, signed: bool) -> tuple[Dataset, np.ndarray]:
    """``name`` re-stored as 12 of 16 bits with an overlay plane in bit 13 and one in bit 15
    (60xx groups pointing at them); the stored values, as 16-bit words without overlays."""
    ds = pydicom.dcmread(get_testdata_file(name, download=False))
    values = ds.pixel_array.astype(np.int32)
    values = values - 1024 if signed else values & 0x0FFF  # both fit 12 bits
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, int(signed)
    stored = (values & 0x0FFF).astype(np.uint16)
    plane = _overlay_plane(values.shape)
    words = stored | (plane << 13) | ((1 - plane) << 15)
    ds.PixelData = words.astype("<u2").tobytes()
    for group, bit in ((0x6000, 13), (0x6002, 15)):
        ds.add_new((group, 0x0010), "US", values.shape[0])  # Overlay Rows
        ds.add_new((group, 0x0011), "US", values.shape[1])  # Overlay Columns
        ds.add_new((group, 0x0040), "CS", "G")  # Overlay Type: graphics
        ds.add_new((group, 0x0050), "SS", [1, 1])  # Overlay Origin
        ds.add_new((group, 0x0100), "US", 16)  # Overlay Bits Allocated: in the pixel words
        ds.add_new((group, 0x0102), "US", bit)  # Overlay Bit Position
    expected = values.astype(np.int16).view(np.uint16) if signed else stored
    return ds, expected


def _words(ds: Dataset) -> np.ndarray:
    return np.frombuffer(ds.PixelData, dtype="<u2").reshape(int(ds.Rows), int(ds.Columns))


@pytest.mark.parametrize(("name", "signed"), [("MR_small.dcm", False), ("CT_small.dcm", True)])
def test_overlay_bits_above_bits_stored_are_cleared_and_stored_values_kept(
    name: str, signed: bool
) -> None:
    ds, expected = _twelve_bit(name, signed=signed)
    before = ds.pixel_array.copy()
    assert (_words(ds) >> 12).any()  # the planted overlays are there
    result = deidentify(ds, OPTIONS)
    out = result.dataset
    assert result.cleared_unused_bits
    # Unsigned: the high bits are zero; signed: copies of the sign bit (no overlay left).
    assert np.array_equal(_words(out), expected)
    assert np.array_equal(_words(out) & 0x0FFF, _words(ds) & 0x0FFF)
    assert np.array_equal(out.pixel_array, before)
    assert not [e for e in out if 0x6000 <= e.tag.group <= 0x60FF]
    assert verify_deidentified(out, result.originals).passed
    assert (_words(ds) >> 12).any()  # the input is left as it was read


def test_pixels_without_unused_bits_are_left_byte_for_byte() -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))  # 16 of 16 bits
    result = deidentify(ds, OPTIONS)
    assert not result.cleared_unused_bits
    assert result.dataset.PixelData == ds.PixelData


def test_a_folder_writes_files_whose_overlay_bits_are_cleared(tmp_path: Path) -> None:
    ds, expected = _twelve_bit("MR_small.dcm", signed=False)
    (tmp_path / "in").mkdir()
    ds.save_as(tmp_path / "in" / "mr.dcm")
    report = deidentify_folder(tmp_path / "in", tmp_path / "out", OPTIONS)
    assert (report.written, report.overlay_bits_cleared) == (1, 1)
    (written,) = (tmp_path / "out").iterdir()
    assert np.array_equal(_words(pydicom.dcmread(written)), expected)


def test_an_overlay_group_left_behind_is_refused() -> None:
    ds, _ = _twelve_bit("MR_small.dcm", signed=False)
    result = deidentify(ds, OPTIONS)
    result.dataset.add_new(0x60000102, "US", 13)  # Overlay Bit Position
    kinds = {f.kind for f in find_residual_identifiers(result.dataset, result.originals)}
    assert FindingKind.LISTED_ATTRIBUTE in kinds


@pytest.mark.parametrize(
    ("high_bit", "signed", "little", "words", "cleared"),
    [
        # Stored in the top 12 bits: the 4 bits below them are unused.
        (15, False, True, [0xABC5, 0x0010, 0xFFFF], [0xABC0, 0x0010, 0xFFF0]),
        # Big-endian words, 12 of 16 bits, overlay in bit 14.
        (11, False, False, [0x4123, 0x0FFF], [0x0123, 0x0FFF]),
        # Signed, 12 of 16: the top bits follow the sign bit (bit 11).
        (11, True, True, [0xF800, 0x07FF, 0x4800, 0xB7FF], [0xF800, 0x07FF, 0xF800, 0x07FF]),
    ],
)
def test_unused_bits_are_cleared_for_each_layout(
    high_bit: int, signed: bool, little: bool, words: list[int], cleared: list[int]
) -> None:
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian

    from medfed.data.deid.pixels import clear_unused_bits

    order = "<u2" if little else ">u2"
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, high_bit
    ds.PixelRepresentation = int(signed)
    ds.PixelData = np.array(words, dtype=order).tobytes()
    assert clear_unused_bits(ds)
    assert np.frombuffer(ds.PixelData, dtype=order).tolist() == cleared
    assert not clear_unused_bits(ds)  # nothing left to clear
