"""Grey-level binning shared by the texture extractors."""

from __future__ import annotations

import numpy as np


def quantise(image: np.ndarray, levels: int, value_range: tuple[float, float] | None) -> np.ndarray:
    """int64 grey levels 0..levels-1 of the same shape.

    ``value_range`` (low, high): a fixed range for every image (values outside are clipped),
    so a level means the same intensity everywhere; None uses each image's own min..max.
    """
    x = np.asarray(image, dtype=np.float64)
    low, high = (float(x.min()), float(x.max())) if value_range is None else value_range
    if high <= low:
        return np.zeros(x.shape, dtype=np.int64)
    q = np.floor((x - low) * (levels / (high - low))).astype(np.int64)
    return np.clip(q, 0, levels - 1)
