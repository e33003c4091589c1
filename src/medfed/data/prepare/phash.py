"""Perceptual hash (DCT pHash) for finding near-duplicate images.

The image (a 2-D image, or the middle slice of a volume along axis 0) is reduced to
32x32 by area averaging, transformed with a 2-D DCT-II, and the 8x8 lowest frequencies
are compared with their median (DC term left out of the median because it only says how
bright the image is). The 64 bits survive re-encoding, small intensity changes and mild
noise, while unrelated images differ in about half of them.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dctn

from medfed.data.prepare._area import area_downsample
from medfed.errors import DataError

__all__ = ["hamming", "phash"]

_SIDE = 32
_KEEP = 8


def phash(pixels: np.ndarray) -> int:
    """64-bit perceptual hash of a 2-D (H, W) image or the middle slice of (D, H, W)."""
    image = np.asarray(pixels)
    if image.ndim == 3:
        image = image[image.shape[0] // 2]
    if image.ndim != 2 or min(image.shape) < 2:
        raise DataError(f"phash needs a 2-D image or a volume, got shape {pixels.shape}")
    if min(image.shape) < _SIDE:  # tiny images: repeat pixels up to the hash grid first
        reps = -(-_SIDE // min(image.shape))
        image = np.repeat(np.repeat(image, reps, axis=0), reps, axis=1)
    small = area_downsample(image.astype(np.float32), (_SIDE, _SIDE)).astype(np.float64)
    low = dctn(small, type=2, norm="ortho")[:_KEEP, :_KEEP].ravel()
    bits = low > np.median(low[1:])
    return int(np.packbits(bits.astype(np.uint8)).view(">u8")[0])


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two hashes."""
    return (a ^ b).bit_count()
