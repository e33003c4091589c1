"""The plaintext twin of vertical LR: the same Taylor gradient, schedule, step and start.

Used as the reference the encrypted run must match, and as the local/central baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from medfed.errors import DataError
from medfed.training.vertical.config import VerticalConfig, batch_rows

__all__ = ["TaylorLRModel", "predict_proba", "taylor_lr_fit"]


@dataclass(frozen=True)
class TaylorLRModel:
    """``weights``: one float64 array per feature block (block 0 is the guest's); ``bias``."""

    weights: tuple[np.ndarray, ...]
    bias: float


def taylor_lr_fit(
    blocks: Sequence[np.ndarray], labels: np.ndarray, *, config: VerticalConfig
) -> TaylorLRModel:
    """Fit logistic regression with the Taylor residual d = 0.25·u - y + 0.5 on feature
    blocks (n, k_p) sharing rows, labels (n,) in {0, 1}; zeros to start, L2 on weights only."""
    xs = [np.asarray(b, dtype=np.float64) for b in blocks]
    y = np.asarray(labels).astype(np.float64)
    n = y.shape[0]
    if not xs or any(x.ndim != 2 or x.shape[0] != n for x in xs):
        raise DataError("every feature block must be (n, k) with one row per label")
    ws = [np.zeros(x.shape[1]) for x in xs]
    bias = 0.0
    for t in range(config.iterations):
        rows = batch_rows(n, config, t)
        u = sum((x[rows] @ w for x, w in zip(xs, ws, strict=True)), np.zeros(rows.size)) + bias
        d = 0.25 * u - y[rows] + 0.5
        m = rows.size
        ws = [
            w - config.lr * (x[rows].T @ d / m + config.l2 * w) for x, w in zip(xs, ws, strict=True)
        ]
        bias -= config.lr * float(d.sum() / m)
    return TaylorLRModel(tuple(ws), bias)


def predict_proba(blocks: Sequence[np.ndarray], model: TaylorLRModel) -> np.ndarray:
    """P(y = 1) float64 (n,) for feature blocks laid out as in training."""
    u = model.bias + sum(
        (np.asarray(x, dtype=np.float64) @ w for x, w in zip(blocks, model.weights, strict=True)),
        np.zeros(np.asarray(blocks[0]).shape[0]),
    )
    return np.exp(-np.logaddexp(0.0, -u))  # sigmoid without overflow for large |u|
