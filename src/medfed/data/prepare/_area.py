"""Box (area) averaging to a smaller grid: each output pixel is the mean of the input
pixels whose index falls in its block. Blocks are ``floor(linspace)`` partitions, so for
integer factors this is the exact block mean; it is its own anti-aliasing filter."""

from __future__ import annotations

import numpy as np

from medfed.errors import DataError


def area_downsample(pixels: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """float32 mean of blocks; every axis of ``shape`` must be <= the input's."""
    if len(shape) != pixels.ndim or any(
        m > n or m < 1 for m, n in zip(shape, pixels.shape, strict=True)
    ):
        raise DataError(f"area averaging only shrinks: {pixels.shape} -> {shape}")
    out = np.asarray(pixels, dtype=np.float32)
    for axis, (n, m) in enumerate(zip(pixels.shape, shape, strict=True)):
        if n == m:
            continue
        edges = np.floor(np.linspace(0, n, m + 1)).astype(np.int64)
        sums = np.add.reduceat(out, edges[:-1], axis=axis)
        counts = np.diff(edges).astype(np.float32)
        view = [1] * out.ndim
        view[axis] = m
        out = (sums / counts.reshape(view)).astype(np.float32, copy=False)
    return out
