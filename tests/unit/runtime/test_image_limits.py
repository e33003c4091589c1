"""Decompression bombs and broken pixel data on the edge: refused as ImageError before decoding."""

from __future__ import annotations

import io
import resource
import struct
import zlib

import numpy as np
import pytest
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from medfed_runtime import ImageError, ImageTooLargeError, read_image
from medfed_runtime._images import MAX_FRAME_PIXELS

pytestmark = pytest.mark.clause("5.7.1.2")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def grey_png(width: int, height: int, rows: int | None = None) -> bytes:
    """A valid 8-bit grey PNG header for ``width``×``height``; zero pixels, ``rows`` of them."""
    raw = zlib.compress(b"\0" * ((width + 1) * (height if rows is None else rows)), 9)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", raw) + _chunk(b"IEND", b"")
    )


def grey_dicom(
    rows: int, columns: int, *, syntax: str = ExplicitVRLittleEndian, pixels: bytes | None = None
) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = FileDataset("image.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = (
        meta.MediaStorageSOPClassUID,
        meta.MediaStorageSOPInstanceUID,
    )
    ds.Modality = "OT"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels if pixels is not None else np.zeros((rows, columns), np.uint16).tobytes()
    if syntax == JPEG2000Lossless:
        ds["PixelData"].VR = "OB"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _peak_rss_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def test_png_claiming_20000_squared_pixels_is_an_image_error_not_a_pillow_bomb() -> None:
    # Pillow itself would raise DecompressionBombError (not an ImageError) for this header.
    with pytest.raises(
        ImageTooLargeError, match=r"PNG file declares (20000x20000 pixels|an image too large)"
    ):
        read_image(grey_png(20000, 20000, rows=4))


def test_small_png_of_8000_squared_pixels_is_refused_before_decoding() -> None:
    bomb = grey_png(8000, 8000)
    assert len(bomb) < 100_000  # ~60 KB on the wire, ~61 MiB of pixels once decoded
    before = _peak_rss_mib()
    with pytest.raises(ImageTooLargeError, match="8000x8000"):
        read_image(bomb)
    assert _peak_rss_mib() - before < 40  # nothing near the decoded size was allocated


def test_pixel_cap_is_configurable_and_images_under_it_still_decode() -> None:
    png = grey_png(64, 64)
    assert read_image(png).shape == (64, 64)
    with pytest.raises(ImageTooLargeError, match="limit of 1000 pixels"):
        read_image(png, max_pixels=1000)
    assert MAX_FRAME_PIXELS == 4096 * 4096


def test_deflated_dicom_bomb_is_refused_before_it_inflates() -> None:
    bomb = grey_dicom(4000, 4000, syntax=DeflatedExplicitVRLittleEndian)
    assert len(bomb) < 64_000  # inflates to 32 MB of pixels, 128 MB as float64
    before = _peak_rss_mib()
    with pytest.raises(ImageTooLargeError, match="decompression bomb"):
        read_image(bomb)
    assert _peak_rss_mib() - before < 40


def test_ordinary_deflated_dicom_still_decodes() -> None:
    pixels = (np.arange(28 * 28, dtype=np.uint16).reshape(28, 28) % 4096).tobytes()
    image = read_image(grey_dicom(28, 28, syntax=DeflatedExplicitVRLittleEndian, pixels=pixels))
    assert image.shape == (28, 28) and image.dtype == np.float64


def test_dicom_header_declaring_too_many_pixels_is_refused_before_pixel_data() -> None:
    # The header claims 5000×5000; the pixel data (never decoded) is only 4 bytes.
    with pytest.raises(ImageTooLargeError, match="5000x5000"):
        read_image(grey_dicom(5000, 5000, pixels=b"\0" * 4))


def test_dicom_declaring_no_rows_is_an_image_error() -> None:
    with pytest.raises(ImageError, match="empty image"):
        read_image(grey_dicom(0, 28, pixels=b""))


def test_jpeg2000_dicom_with_unreadable_pixel_data_is_an_image_error() -> None:
    # pydicom's JPEG 2000 decoders raise RuntimeError (or another non-ImageError) for this.
    broken = grey_dicom(28, 28, syntax=JPEG2000Lossless, pixels=encapsulate([b"\0" * 100]))
    with pytest.raises(ImageError, match="pixel data cannot be read"):
        read_image(broken)
