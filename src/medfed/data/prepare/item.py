"""One image as the preparation steps see it, independent of how it was read."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

__all__ = ["ImageItem", "pixel_hash"]


def pixel_hash(pixels: np.ndarray) -> str:
    """SHA-256 hex of an array's dtype, shape and bytes (C order): equal only for equal images."""
    array = np.ascontiguousarray(pixels)
    digest = hashlib.sha256(f"{array.dtype.str}|{array.shape}|".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)  # arrays do not compare as one bool: identity equality
class ImageItem:
    """An image and what is known about it at the hospital.

    ``pixels``: 2-D (H, W) or 3-D (D, H, W) array in stored units (HU for CT), or None when
    the file could not be decoded. ``spacing``: millimetres per pixel along each array axis.
    ``patient``: the pseudonym (never a real identifier). ``label``: class index or None.
    ``content_hash``: hash of the source content (file or pixels), used for exact
    duplicates. ``bits_stored``: the bit depth declared by the source, when it declares one.
    ``direction``: for volumes, row ``i`` is the world unit vector of array axis ``i``
    (9 numbers, row major), used to reorient to the canonical order.
    """

    item_id: str
    pixels: np.ndarray | None
    spacing: tuple[float, ...]
    modality: str
    patient: str
    label: int | None
    content_hash: str
    bits_stored: int | None = None
    direction: tuple[float, ...] | None = None

    @classmethod
    def from_array(
        cls,
        item_id: str,
        pixels: np.ndarray,
        *,
        patient: str,
        modality: str,
        label: int | None = None,
        spacing: tuple[float, ...] | None = None,
        bits_stored: int | None = None,
        direction: tuple[float, ...] | None = None,
    ) -> ImageItem:
        """An item whose content hash is the pixel hash; spacing defaults to 1 mm per axis."""
        return cls(
            item_id=item_id,
            pixels=pixels,
            spacing=spacing if spacing is not None else (1.0,) * pixels.ndim,
            modality=modality,
            patient=patient,
            label=label,
            content_hash=pixel_hash(pixels),
            bits_stored=bits_stored,
            direction=direction,
        )
