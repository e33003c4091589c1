"""Encoded images (PNG, JPEG, DICOM) to pixel arrays, the format sniffed from the bytes.

Pillow decodes PNG/JPEG and pydicom decodes DICOM; each is imported only when such a file
arrives, so an SDK that only takes arrays needs neither.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from medfed_runtime._errors import ImageError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
DICOM_MAGIC_OFFSET = 128
MAX_IMAGE_BYTES = 256 * 1024 * 1024
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


def _pillow(data: bytes, kind: str) -> np.ndarray:
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ImageError(f"reading {kind.upper()} images needs Pillow; install it or pass a numpy array") from None
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            image: Image.Image = opened
            if image.mode in ("1", "P", "LA", "PA"):
                image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "L")
            if image.mode == "CMYK":
                image = image.convert("RGB")
            array = np.asarray(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"the file looks like {kind.upper()} but cannot be decoded: {exc}") from None
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]  # alpha carries no image content
    return np.ascontiguousarray(array)


def _dicom(data: bytes) -> np.ndarray:
    try:
        import pydicom
        from pydicom.errors import InvalidDicomError
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
    except ImportError:
        raise ImageError("reading DICOM images needs pydicom; install it or pass a numpy array") from None
    try:
        ds = pydicom.dcmread(io.BytesIO(data))
        pixels = ds.pixel_array
    except (InvalidDicomError, AttributeError, KeyError, ValueError, EOFError, OSError, NotImplementedError) as exc:
        raise ImageError(f"the file looks like DICOM but its pixel data cannot be read: {exc}") from None
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if frames > 1:
        raise ImageError(f"expected a single-frame DICOM image, got {frames} frames")
    if getattr(ds, "SamplesPerPixel", 1) != 1:
        return np.ascontiguousarray(pixels)  # colour DICOM: RGB pixels as stored
    # Stored values -> modality units -> the display window the file declares (if any).
    values = apply_voi_lut(apply_modality_lut(pixels, ds), ds).astype(np.float64)
    if getattr(ds, "PhotometricInterpretation", "") == "MONOCHROME1":
        values = values.max() - values  # MONOCHROME1 shows low values as white
    return values


def read_image(source: bytes | str | Path) -> np.ndarray:
    """Decode PNG, JPEG or DICOM bytes (or a file) to an array HxW or HxWxC.

    PNG/JPEG keep their stored dtype (usually ``uint8``); DICOM grey images come back as
    float64 display values after the modality LUT and the file's VOI window.
    Raises :class:`ImageError` saying which format was expected and what was wrong.
    """
    data = _read_source(source)
    kind = sniff(data)
    array = _dicom(data) if kind == "dicom" else _pillow(data, kind)
    if array.ndim not in (2, 3) or array.size == 0:
        raise ImageError(f"the {kind.upper()} file holds an array of shape {array.shape}, not an image")
    return array
