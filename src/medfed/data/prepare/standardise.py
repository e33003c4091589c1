"""Standardisation (standard 5.3.3.2c): one orientation, size/spacing, intensity range and
pixel format for every image of a study, at every hospital.

Steps, in this order: reorient (canonical axis order from the item's direction, then the
configured transposition and flips) → intensity normalisation to float32 [0, 1] (CT
windowing in HU, percentile scaling otherwise) → resampling (to a spacing, then to a shape)
→ output format. Intensity comes before resampling so that extreme values (metal, air)
are clipped before they are smeared by interpolation.

Output formats: ``UINT8`` is ``round(255 * v)`` as uint8 (0..255); ``FLOAT32`` is v in
[0, 1] as float32. The configuration's ``digest()`` is what hospitals compare.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

import numpy as np
from skimage.transform import resize

from medfed.data.prepare._area import area_downsample
from medfed.data.prepare.item import ImageItem
from medfed.errors import ConfigError, DataError

__all__ = [
    "IntensityMode",
    "OutputFormat",
    "ResampleMethod",
    "StandardiseConfig",
    "percentile_scale",
    "reorient",
    "resample",
    "standardise",
    "standardise_many",
    "window",
]


class IntensityMode(StrEnum):
    """How stored values become [0, 1]."""

    AUTO = "auto"  # WINDOW for modality "CT", PERCENTILE otherwise
    WINDOW = "window"
    PERCENTILE = "percentile"
    MINMAX = "minmax"


class ResampleMethod(StrEnum):
    """How the grid changes size."""

    SPLINE = "spline"  # skimage ``resize``: Gaussian anti-aliasing, then spline interpolation
    AREA = "area"  # block mean when shrinking (faster, no ringing); SPLINE when enlarging


class OutputFormat(StrEnum):
    UINT8 = "uint8"  # 0..255
    FLOAT32 = "float32"  # [0, 1]


@dataclass(frozen=True)
class StandardiseConfig:
    """Study-wide standardisation. ``target_shape``: output pixels per axis (None: keep).
    ``target_spacing``: mm per axis to resample to first (None: keep); with both, the
    resampled image is centre-cropped or zero-padded to ``target_shape`` so spacing holds.
    ``window_centre`` / ``window_width`` in HU; ``percentiles`` (low, high) in percent.
    ``axes_order`` and ``flip_axes`` are applied after canonical reorientation.
    ``interpolation_order``: spline order (0 nearest, 1 linear, 3 cubic)."""

    target_shape: tuple[int, ...] | None = (128, 128)
    target_spacing: tuple[float, ...] | None = None
    intensity: IntensityMode = IntensityMode.AUTO
    window_centre: float = 40.0
    window_width: float = 400.0
    percentiles: tuple[float, float] = (1.0, 99.0)
    output: OutputFormat = OutputFormat.UINT8
    anti_aliasing: bool = True
    interpolation_order: int = 1
    resample_method: ResampleMethod = ResampleMethod.SPLINE
    axes_order: tuple[int, ...] | None = None
    flip_axes: tuple[int, ...] = ()
    canonical_orientation: bool = True

    def __post_init__(self) -> None:
        if self.target_shape is not None and (
            len(self.target_shape) not in (2, 3) or min(self.target_shape) < 1
        ):
            raise ConfigError(
                f"target_shape must be 2 or 3 positive sizes, got {self.target_shape}"
            )
        if self.target_spacing is not None and min(self.target_spacing) <= 0:
            raise ConfigError(f"target_spacing must be positive mm, got {self.target_spacing}")
        if self.window_width <= 0:
            raise ConfigError(f"window_width must be positive HU, got {self.window_width}")
        low, high = self.percentiles
        if not 0.0 <= low < high <= 100.0:
            raise ConfigError(
                f"percentiles must satisfy 0 <= low < high <= 100, got {self.percentiles}"
            )
        if self.interpolation_order not in range(6):
            raise ConfigError(f"interpolation_order must be 0..5, got {self.interpolation_order}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values: enums by value, tuples as lists."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Enum):
                value = value.value
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    def digest(self) -> str:
        """SHA-256 hex of the canonical JSON (sorted keys, no spaces, versioned)."""
        body = {"kind": "medfed.standardise", "version": 1, "config": self.to_dict()}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(text.encode()).hexdigest()


def window(pixels: np.ndarray, centre: float, width: float) -> np.ndarray:
    """float32 [0, 1]: ``centre - width/2`` HU maps to 0, ``centre + width/2`` to 1, linear
    between, clipped outside."""
    low = centre - width / 2.0
    out = (np.asarray(pixels, dtype=np.float32) - np.float32(low)) * np.float32(1.0 / width)
    return np.clip(out, 0.0, 1.0, out=out)


def percentile_scale(pixels: np.ndarray, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """float32 [0, 1]: the image's ``low``-th percentile maps to 0, ``high``-th to 1, clipped.
    A flat image (equal percentiles) maps to 0."""
    x = np.asarray(pixels, dtype=np.float32)
    lo, hi = np.percentile(x, [low, high])
    if hi <= lo:
        return np.zeros_like(x)
    out = (x - np.float32(lo)) * np.float32(1.0 / (hi - lo))
    return np.clip(out, 0.0, 1.0, out=out)


def reorient(
    pixels: np.ndarray, spacing: tuple[float, ...], direction: Sequence[float]
) -> tuple[np.ndarray, tuple[float, ...]]:
    """Array and spacing with axis ``k`` along world axis ``k``, increasing.

    ``direction``: row ``i`` is the world unit vector of array axis ``i`` (n*n numbers,
    row major). Each array axis is matched to the world axis it points at most, then
    axes are transposed into world order and flipped where they point backwards.
    """
    n = pixels.ndim
    matrix = np.asarray(direction, dtype=np.float64).reshape(n, n)
    world = np.argmax(np.abs(matrix), axis=1)
    if sorted(world.tolist()) != list(range(n)):
        raise DataError(f"direction matrix does not map axes one to one: {matrix.tolist()}")
    order = np.argsort(world)  # array axis that lies along world axis k
    out = np.transpose(pixels, order)
    flips = tuple(k for k, axis in enumerate(order) if matrix[axis, k] < 0)
    if flips:
        out = np.flip(out, axis=flips)
    return out, tuple(spacing[a] for a in order)


def resample(
    pixels: np.ndarray,
    shape: tuple[int, ...],
    *,
    order: int = 1,
    anti_aliasing: bool = True,
    method: ResampleMethod = ResampleMethod.SPLINE,
) -> np.ndarray:
    """float32 image of ``shape`` (same number of axes as ``pixels``); anti-aliasing smooths
    before shrinking so fine detail does not alias."""
    if len(shape) != pixels.ndim:
        raise DataError(f"cannot resample a {pixels.ndim}-D image to shape {shape}")
    if tuple(shape) == pixels.shape:
        return pixels.astype(np.float32, copy=False)
    if method is ResampleMethod.AREA and all(
        m <= n for m, n in zip(shape, pixels.shape, strict=True)
    ):
        return area_downsample(pixels, tuple(shape))
    out = resize(
        pixels, shape, order=order, anti_aliasing=anti_aliasing, mode="edge", preserve_range=True
    )
    return out.astype(np.float32, copy=False)


def _crop_or_pad(pixels: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Centre crop or zero pad to ``shape`` (0 is the bottom of the normalised range)."""
    out = np.zeros(shape, dtype=pixels.dtype)
    src, dst = [], []
    for have, want in zip(pixels.shape, shape, strict=True):
        if have >= want:
            start = (have - want) // 2
            src.append(slice(start, start + want))
            dst.append(slice(0, want))
        else:
            start = (want - have) // 2
            src.append(slice(0, have))
            dst.append(slice(start, start + have))
    out[tuple(dst)] = pixels[tuple(src)]
    return out


def _normalise(pixels: np.ndarray, modality: str, config: StandardiseConfig) -> np.ndarray:
    mode = config.intensity
    if mode is IntensityMode.AUTO:
        mode = IntensityMode.WINDOW if modality.upper() == "CT" else IntensityMode.PERCENTILE
    if mode is IntensityMode.WINDOW:
        return window(pixels, config.window_centre, config.window_width)
    if mode is IntensityMode.PERCENTILE:
        return percentile_scale(pixels, *config.percentiles)
    return percentile_scale(pixels, 0.0, 100.0)


def standardise(item: ImageItem, config: StandardiseConfig) -> ImageItem:
    """The item with standardised pixels and the resulting spacing (mm). The content hash
    still names the source image, so outputs stay traceable to what was cleaned."""
    if item.pixels is None:
        raise DataError(f"item {item.item_id!r} has no pixels; clean the data first")
    pixels, spacing = item.pixels, tuple(float(s) for s in item.spacing)
    if len(spacing) != pixels.ndim:
        raise DataError(
            f"item {item.item_id!r}: spacing {spacing} does not fit shape {pixels.shape}"
        )
    if config.canonical_orientation and item.direction is not None:
        pixels, spacing = reorient(pixels, spacing, item.direction)
    if config.axes_order is not None:
        pixels = np.transpose(pixels, config.axes_order)
        spacing = tuple(spacing[a] for a in config.axes_order)
    if config.flip_axes:
        pixels = np.flip(pixels, axis=config.flip_axes)
    values = _normalise(pixels, item.modality, config)
    if config.target_spacing is not None:
        if len(config.target_spacing) != values.ndim:
            raise DataError(
                f"target_spacing {config.target_spacing} does not fit a {values.ndim}-D image"
            )
        shape = tuple(
            max(1, round(n * s / t))
            for n, s, t in zip(values.shape, spacing, config.target_spacing, strict=True)
        )
        values = resample(
            values,
            shape,
            order=config.interpolation_order,
            anti_aliasing=config.anti_aliasing,
            method=config.resample_method,
        )
        spacing = tuple(float(t) for t in config.target_spacing)
        if config.target_shape is not None:
            values = _crop_or_pad(values, config.target_shape)
    elif config.target_shape is not None:
        if len(config.target_shape) != values.ndim:
            raise DataError(
                f"target_shape {config.target_shape} does not fit a {values.ndim}-D image"
            )
        spacing = tuple(
            s * n / m for s, n, m in zip(spacing, values.shape, config.target_shape, strict=True)
        )
        values = resample(
            values,
            config.target_shape,
            order=config.interpolation_order,
            anti_aliasing=config.anti_aliasing,
            method=config.resample_method,
        )
    np.clip(values, 0.0, 1.0, out=values)  # higher-order splines overshoot
    if config.output is OutputFormat.UINT8:
        out: np.ndarray = np.rint(values * 255.0).astype(np.uint8)
    else:
        out = np.ascontiguousarray(values, dtype=np.float32)
    return dataclasses.replace(item, pixels=out, spacing=spacing, direction=None)


def standardise_many(items: Sequence[ImageItem], config: StandardiseConfig) -> np.ndarray:
    """Standardised pixels of every item stacked: (N, *target_shape) in the output format."""
    if config.target_shape is None:
        raise ConfigError("stacking needs a target_shape so every image has the same size")
    if not items:
        dtype = np.uint8 if config.output is OutputFormat.UINT8 else np.float32
        return np.zeros((0, *config.target_shape), dtype=dtype)
    return np.stack([standardise(item, config).pixels for item in items])  # type: ignore[misc]
