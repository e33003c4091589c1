"""Encoded images (PNG, JPEG, DICOM) to pixel arrays, the format sniffed from the bytes.

Pillow decodes PNG/JPEG and pydicom decodes DICOM; each is imported only when such a file
arrives, so an SDK that only takes arrays needs neither.

A few kilobytes can claim a huge image (a decompression bomb), so the size an image
declares is checked before any pixel is decoded: at most :data:`MAX_FRAME_PIXELS`
(4096×4096) per frame and :data:`MAX_TOTAL_SAMPLES` values in all (4096×4096×3), and a
deflate-compressed DICOM file may inflate to at most :data:`MAX_INFLATE_RATIO` times its
size (never above :data:`MAX_INFLATED_BYTES`). ``read_image(..., max_pixels=...)`` lowers
or raises the per-frame cap.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from medfed_runtime._errors import ImageError, ImageTooLargeError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
DICOM_MAGIC_OFFSET = 128
MAX_IMAGE_BYTES = 256 * 1024 * 1024
MAX_FRAME_PIXELS = 4096 * 4096
MAX_TOTAL_SAMPLES = MAX_FRAME_PIXELS * 3  # every frame and colour channel together
# Real images deflate a few times at most; a ratio of hundreds is a bomb, not an image.
MAX_INFLATE_RATIO = 100
MAX_INFLATED_BYTES = 128 * 1024 * 1024
_INFLATE_FLOOR_BYTES = 1024 * 1024  # tiny files may compress well without being a threat
_INFLATE_CHUNK = 1024 * 1024
_SUPPORTED = "PNG, JPEG or DICOM"


def sniff(data: bytes) -> str:
    """"png", "jpeg" or "dicom" from the leading bytes; ImageError for anything else."""
    if data.startswith(PNG_MAGIC):
        return "png"
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if data[DICOM_MAGIC_OFFSET : DICOM_MAGIC_OFFSET + 4] == b"DICM":
        return "dicom"
    head = data[:8].hex(" ") if data else "(empty)"
    raise ImageError(f"expected a {_SUPPORTED} file, but the bytes start with {head} (not a known image signature)")


def _read_source(source: bytes | str | Path) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            if path.stat().st_size > MAX_IMAGE_BYTES:
                raise ImageError(f"{path} is larger than {MAX_IMAGE_BYTES} bytes; not an image this SDK reads")
            return path.read_bytes()
        except OSError as exc:
            raise ImageError(f"cannot read image file {path}: {exc.strerror}") from None
    raise ImageError(f"expected {_SUPPORTED} bytes or a file path, not {type(source).__name__}")


def _check_size(kind: str, rows: int, columns: int, frames: int, samples: int, max_pixels: int) -> None:
    """Refuse an image whose declared size is empty or above the caps, before decoding it."""
    if rows <= 0 or columns <= 0 or frames <= 0 or samples <= 0:
        raise ImageError(f"the {kind.upper()} file declares an empty image ({rows}x{columns})")
    if rows * columns > max_pixels:
        raise ImageTooLargeError(
            f"the {kind.upper()} file declares {columns}x{rows} pixels, more than the limit of "
            f"{max_pixels} pixels per image; send a smaller image"
        )
    if rows * columns * frames * samples > MAX_TOTAL_SAMPLES:
        raise ImageTooLargeError(
            f"the {kind.upper()} file declares {frames} frame(s) of {columns}x{rows}x{samples} values, "
            f"more than the limit of {MAX_TOTAL_SAMPLES} values; send a smaller image"
        )


def _pillow(data: bytes, kind: str, max_pixels: int) -> np.ndarray:
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ImageError(f"reading {kind.upper()} images needs Pillow; install it or pass a numpy array") from None
    try:
        with Image.open(io.BytesIO(data)) as opened:
            # Image.open reads only the header: the size is known before any pixel is decoded.
            width, height = opened.size
            _check_size(kind, height, width, 1, len(opened.getbands()), max_pixels)
            opened.load()
            image: Image.Image = opened
            if image.mode == "P" and "transparency" not in image.info:
                # A palette may hold colours: converting straight to grey would hide them from a colour model.
                image = image.convert("RGB")
            if image.mode in ("1", "P", "LA", "PA"):
                image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "L")
            if image.mode == "CMYK":
                image = image.convert("RGB")
            array = np.asarray(image)
            if opened.mode == "P" and array.ndim == 3 and _is_grey(array):
                array = array[:, :, 0]  # a grey palette stays a grey image, as before
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"the {kind.upper()} file declares an image too large to decode: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, ImageError):
            raise
        raise ImageError(f"the file looks like {kind.upper()} but cannot be decoded: {exc}") from None
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]  # alpha carries no image content
    return np.ascontiguousarray(array)


def _is_grey(rgb: np.ndarray) -> bool:
    return bool(np.array_equal(rgb[:, :, 0], rgb[:, :, 1]) and np.array_equal(rgb[:, :, 0], rgb[:, :, 2]))


def _file_meta(data: bytes) -> tuple[Any, int]:
    """The DICOM file meta group and the offset of the data set that follows it."""
    # pydicom's public reader takes only a path; its stream reader is the same code.
    from pydicom.filereader import _read_file_meta_info

    stream = io.BytesIO(data)
    stream.seek(DICOM_MAGIC_OFFSET + 4)
    meta = _read_file_meta_info(stream)
    return meta, stream.tell()


def _check_deflated(data: bytes, offset: int) -> None:
    """Refuse a deflate-compressed DICOM data set (from ``offset``) that would inflate beyond the caps.

    pydicom inflates the whole data set at once; inflating here first, in bounded chunks
    whose output is dropped, learns the size without ever holding it.
    """
    compressed = data[offset:]
    limit = min(MAX_INFLATED_BYTES, max(_INFLATE_FLOOR_BYTES, MAX_INFLATE_RATIO * len(compressed)))
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    inflated, pending = 0, compressed
    while pending and not inflater.eof:
        inflated += len(inflater.decompress(pending, _INFLATE_CHUNK))
        pending = inflater.unconsumed_tail
        if inflated > limit:
            raise ImageTooLargeError(
                f"the deflated DICOM file ({len(compressed)} bytes) inflates to more than {limit} bytes; "
                "refusing it as a decompression bomb"
            )


def _dicom(data: bytes, max_pixels: int) -> np.ndarray:
    try:
        import pydicom
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
        from pydicom.uid import DeflatedExplicitVRLittleEndian
    except ImportError:
        raise ImageError("reading DICOM images needs pydicom; install it or pass a numpy array") from None
    try:
        meta, offset = _file_meta(data)
        if meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
            _check_deflated(data, offset)
        ds = pydicom.dcmread(io.BytesIO(data))
        frames = _header_int(ds, "NumberOfFrames", 1)
        samples = _header_int(ds, "SamplesPerPixel", 1)
        rows, columns = _header_int(ds, "Rows", 0), _header_int(ds, "Columns", 0)
    except ImageError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure means an unreadable upload
        raise ImageError(f"the file looks like DICOM but cannot be parsed: {exc}") from None
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise ImageError("the file looks like DICOM but its pixel data cannot be read: it holds none")
    _check_size("dicom", rows, columns, frames, samples, max_pixels)
    if frames > 1:
        raise ImageError(f"expected a single-frame DICOM image, got {frames} frames")
    try:
        pixels = ds.pixel_array
        if samples != 1:
            return np.ascontiguousarray(pixels)  # colour DICOM: RGB pixels as stored
        # Stored values -> modality units -> the display window the file declares (if any).
        values = apply_voi_lut(apply_modality_lut(pixels, ds), ds).astype(np.float64)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - pixel decoders raise many kinds (RuntimeError for JPEG 2000)
        raise ImageError(f"the file looks like DICOM but its pixel data cannot be read: {exc}") from None
    if getattr(ds, "PhotometricInterpretation", "") == "MONOCHROME1":
        values = values.max() - values  # MONOCHROME1 shows low values as white
    return values


def _header_int(ds: Any, keyword: str, default: int) -> int:
    value = ds.get(keyword, default)
    try:
        return int(value if value not in (None, "") else default)
    except (TypeError, ValueError):
        raise ImageError(f"the DICOM header's {keyword} is not a number: {value!r}") from None


def read_image(source: bytes | str | Path, *, max_pixels: int = MAX_FRAME_PIXELS) -> np.ndarray:
    """Decode PNG, JPEG or DICOM bytes (or a file) to an array HxW or HxWxC.

    PNG/JPEG keep their stored dtype (usually ``uint8``); DICOM grey images come back as
    float64 display values after the modality LUT and the file's VOI window.
    Raises :class:`ImageError` saying which format was expected and what was wrong, also for
    an image declaring more than ``max_pixels`` pixels (checked before decoding).
    """
    data = _read_source(source)
    kind = sniff(data)
    array = _dicom(data, max_pixels) if kind == "dicom" else _pillow(data, kind, max_pixels)
    if array.ndim not in (2, 3) or array.size == 0:
        raise ImageError(f"the {kind.upper()} file holds an array of shape {array.shape}, not an image")
    return array
