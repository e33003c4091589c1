"""Grey-level co-occurrence and run-length matrices of quantised 2-D images (numpy only).

Levels are ints 0..L-1; a level of -1 marks a pixel outside the region (mask): it forms
no pair and breaks runs. Offsets are (dy, dx) in pixels: (0, 1) is 0 degrees, (1, 1) 45,
(1, 0) 90 and (1, -1) 135 (rows grow downwards).
"""

from __future__ import annotations

import numpy as np

from medfed.errors import DataError

__all__ = ["ANGLES", "glcm", "glrlm"]

ANGLES: tuple[tuple[int, int], ...] = ((0, 1), (1, 1), (1, 0), (1, -1))


def glcm(
    q: np.ndarray, levels: int, offset: tuple[int, int], *, symmetric: bool = True
) -> np.ndarray:
    """float64 (L, L) counts: entry [i, j] is how often level i has level j at ``offset``
    from it; ``symmetric`` adds the transpose (both directions counted)."""
    dy, dx = offset
    h, w = q.shape
    if dy < 0:
        raise DataError(f"offsets point down or sideways (dy >= 0), got {offset}")
    c0, c1 = max(0, -dx), w - max(0, dx)  # columns c with c + dx inside the image
    if dy >= h or c1 <= c0:
        return np.zeros((levels, levels))
    a = q[: h - dy, c0:c1].ravel()
    b = q[dy:, c0 + dx : c1 + dx].ravel()
    keep = (a >= 0) & (b >= 0)
    pairs = np.bincount(a[keep] * levels + b[keep], minlength=levels * levels)
    counts = pairs.reshape(levels, levels).astype(np.float64)
    return counts + counts.T if symmetric else counts


def _line_keys(shape: tuple[int, int], direction: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(line id, position along the line) of every pixel, for runs along ``direction``."""
    y, x = np.indices(shape)
    if direction == (0, 1):
        return y, x
    if direction == (1, 0):
        return x, y
    if direction == (1, 1):
        return x - y, y
    if direction == (1, -1):
        return x + y, y
    raise DataError(f"run directions are {ANGLES}, got {direction}")


def glrlm(q: np.ndarray, levels: int, direction: tuple[int, int]) -> np.ndarray:
    """float64 (L, max(H, W)) counts: entry [i, r - 1] is the number of maximal runs of
    level i with length r along ``direction``."""
    line, pos = _line_keys(q.shape, direction)
    order = np.lexsort((pos.ravel(), line.ravel()))
    values = q.ravel()[order]
    lines = line.ravel()[order]
    start = np.ones(values.size, dtype=bool)
    start[1:] = (values[1:] != values[:-1]) | (lines[1:] != lines[:-1])
    starts = np.flatnonzero(start)
    lengths = np.diff(np.append(starts, values.size))
    run_levels = values[starts]
    keep = run_levels >= 0
    longest = max(q.shape)
    flat = run_levels[keep] * longest + (lengths[keep] - 1)
    counts = np.bincount(flat, minlength=levels * longest)
    return counts.reshape(levels, longest).astype(np.float64)
