"""ROC AUC by ranks (Mann–Whitney U), numpy only: cheap enough for every node every round."""

from __future__ import annotations

import numpy as np


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks; tied values share the mean of their positions."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inverse]


def binary_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties counting one half.

    y_true: (N,) in {0, 1}; score: (N,). NaN when only one class is present.
    """
    positive = np.asarray(y_true) == 1
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(np.asarray(score, dtype=np.float64))
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def macro_auc(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Binary AUC of class 1 for K=2; one-vs-rest macro mean over present classes for K>2."""
    y = np.asarray(y_true)
    if proba.shape[1] == 2:
        return binary_auc(y, proba[:, 1])
    values = [binary_auc(y == k, proba[:, k]) for k in range(proba.shape[1]) if (y == k).any()]
    values = [v for v in values if v == v]
    return float(np.mean(values)) if values else float("nan")
