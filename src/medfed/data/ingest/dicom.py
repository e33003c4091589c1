"""Reading DICOM files into images, and multi-slice series into volumes."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut

from medfed.data.deid.reading import read_headerless
from medfed.data.ingest.record import Item, Skipped, SkipReason

# Slice gaps may differ by this much (mm) before a series counts as inconsistent: scanners
# write positions with limited decimals.
SPACING_TOLERANCE_MM = 0.01


@dataclass(frozen=True)
class _Slice:
    pixels: np.ndarray
    ds: Dataset
    source: str
    sha256: str


class DicomReader:
    """Collects DICOM files one at a time, then assembles series with :meth:`finish`."""

    def __init__(self) -> None:
        self._series: dict[str, list[_Slice]] = defaultdict(list)
        self.items: list[Item] = []
        self.skipped: list[Skipped] = []

    def add(self, path: Path, source: str, sha256: str) -> None:
        """Read one file; anything wrong with it becomes a :class:`Skipped`, never an error."""
        ds = read_dicom(path, source)
        if isinstance(ds, Skipped):
            self.skipped.append(ds)
        else:
            self.add_dataset(ds, source, sha256)

    def add_dataset(self, ds: Dataset, source: str, sha256: str) -> None:
        """Decode one dataset already read (and perhaps de-identified); bad pixels are skipped.

        The encoded pixel data is dropped from ``ds`` once decoded (only its attributes are
        needed to assemble series), so a large folder is not held in memory twice.
        """
        if "PixelData" not in ds and "FloatPixelData" not in ds:
            # pydicom stops quietly at a cut-off element, so a file truncated before its pixels
            # reads as one without them; an image SOP class without pixels points to that.
            detail = "image SOP class without pixels: truncated file?" if _is_image(ds) else ""
            self.skipped.append(Skipped(source, SkipReason.NO_PIXELS, detail))
            return
        if not any(ds.get(keyword) for keyword in ("PixelData", "FloatPixelData")):
            self.skipped.append(Skipped(source, SkipReason.NO_PIXELS, "Pixel Data is empty"))
            return
        try:
            pixels = apply_modality_lut(ds.pixel_array, ds)
        except (RuntimeError, NotImplementedError) as exc:
            # pydicom raises these when no installed plugin decodes the transfer syntax.
            self.skipped.append(Skipped(source, SkipReason.UNSUPPORTED_COMPRESSION, str(exc)))
            return
        except (ValueError, TypeError, AttributeError, EOFError, OSError, KeyError) as exc:
            # TypeError: a header value of the wrong type (a text RescaleSlope) meets numpy.
            self.skipped.append(Skipped(source, SkipReason.UNREADABLE, str(exc)))
            return
        if pixels.dtype == np.float64:
            # Rescaled values (HU) are exact in float32; half the memory for a large folder.
            pixels = pixels.astype(np.float32)
        for keyword in ("PixelData", "FloatPixelData"):
            if keyword in ds:
                delattr(ds, keyword)
        one = _Slice(pixels, ds, source, sha256)
        series = self._series.get(str(ds.get("SeriesInstanceUID", "")))
        if series and any(s.sha256 == sha256 for s in series):
            # The same file twice is one image stored twice, not two slices: cleaning counts it.
            self.items.append(_item(one))
        elif pixels.ndim == 2 and "SeriesInstanceUID" in ds and _position(ds) is not None:
            self._series[str(ds.SeriesInstanceUID)].append(one)
        else:
            self.items.append(_item(one))

    def finish(self) -> None:
        """Turn each collected series into one volume (or one image if it has one slice)."""
        for slices in self._series.values():
            if len(slices) == 1:
                self.items.append(_item(slices[0]))
                continue
            volume = _assemble(slices)
            if isinstance(volume, Item):
                self.items.append(volume)
            else:
                self.skipped.extend(Skipped(s.source, volume[0], volume[1]) for s in slices)
        self._series.clear()


def read_dicom(path: Path, source: str) -> Dataset | Skipped:
    """The dataset in ``path``, or why it cannot be read (never raises for a bad file).

    A file without the 128-byte preamble and ``DICM`` prefix (older archives write them so)
    is still read when what is there is an image: a SOP class and pixel data.
    """
    try:
        return pydicom.dcmread(path)
    except InvalidDicomError:
        headerless = read_headerless(path, need_pixels=True)
        return headerless if headerless is not None else Skipped(source, SkipReason.NOT_DICOM)
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        return Skipped(source, SkipReason.UNREADABLE, str(exc))


def _is_image(ds: Dataset) -> bool:
    sop_class = ds.get("SOPClassUID")
    return "Rows" in ds or (sop_class is not None and "Image" in sop_class.name)


def _numbers(ds: Dataset, keyword: str, count: int) -> list[float] | None:
    """``count`` finite numbers from ``keyword``, or ``None`` if absent or malformed.

    A header may hold anything (text, a wrong count, NaN); geometry is then unknown, never
    an error that stops the whole folder.
    """
    try:
        value = ds.get(keyword)
        several = isinstance(value, Sequence) and not isinstance(value, str | bytes)
        numbers = [float(v) for v in (value if several else [value])]
    except (TypeError, ValueError):
        return None
    if len(numbers) != count or not all(np.isfinite(numbers)):
        return None
    return numbers


def _pixel_spacing(ds: Dataset) -> tuple[float, float] | None:
    spacing = _numbers(ds, "PixelSpacing", 2)
    if spacing is None or min(spacing) <= 0:
        return None
    return spacing[0], spacing[1]


def _instance_number(ds: Dataset) -> int:
    try:
        return int(ds.get("InstanceNumber", 0) or 0)
    except (TypeError, ValueError):
        return 0


def _item(one: _Slice) -> Item:
    return Item(
        pixels=one.pixels,
        spacing=_pixel_spacing(one.ds),
        modality=str(one.ds.get("Modality", "") or "OT"),
        patient_id=str(one.ds.get("PatientID", "") or ""),
        source=one.source,
        sha256=one.sha256,
    )


def _position(ds: Dataset) -> float | None:
    """Where the slice lies along the series; ``None`` if its position is not usable."""
    position = _numbers(ds, "ImagePositionPatient", 3)
    if position is None:
        return None
    orientation = _numbers(ds, "ImageOrientationPatient", 6)
    if orientation is None:
        return float(_instance_number(ds))
    # Distance along the slice normal: the only order that is right for oblique series.
    row, col = np.asarray(orientation).reshape(2, 3)
    return float(np.dot(np.cross(row, col), np.asarray(position)))


def _slice_position(one: _Slice) -> float:
    position = _position(one.ds)
    assert position is not None  # add_dataset only collects slices with a usable position
    return position


def _assemble(slices: list[_Slice]) -> Item | tuple[SkipReason, str]:
    shapes = {s.pixels.shape for s in slices}
    if len(shapes) > 1:
        return SkipReason.INCONSISTENT_SPACING, f"slices differ in shape: {sorted(shapes)}"
    ordered = sorted(slices, key=lambda s: (_slice_position(s), _instance_number(s.ds)))
    gaps = np.diff([_slice_position(s) for s in ordered])
    if gaps.min() <= 0 or gaps.max() - gaps.min() > SPACING_TOLERANCE_MM:
        detail = f"slice gaps from {gaps.min():.3f} to {gaps.max():.3f} mm"
        return SkipReason.INCONSISTENT_SPACING, detail
    in_plane = _pixel_spacing(ordered[0].ds)
    spacing = (float(np.mean(gaps)), *in_plane) if in_plane else None
    digest = hashlib.sha256("".join(sorted(s.sha256 for s in ordered)).encode()).hexdigest()
    first = _item(ordered[0])
    return Item(
        pixels=np.stack([s.pixels for s in ordered]),
        spacing=spacing,
        modality=first.modality,
        patient_id=first.patient_id,
        source=first.source,
        sha256=digest,
    )
