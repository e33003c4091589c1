"""k-ary randomized response (clause 5.4.3.3-5): local DP for categorical values and labels.

Each value is kept with probability p = e^ε / (e^ε + k − 1), otherwise replaced by one of the
k − 1 other categories chosen uniformly. The ratio of any two report probabilities is at most
p / ((1 − p)/(k − 1)) = e^ε, so the node releases its reports with ε-local DP.
"""

from __future__ import annotations

import math
from numbers import Integral
from typing import Any

import numpy as np

from medfed.errors import ConfigError, DataError
from medfed.privacy.dp._checks import check_epsilon
from medfed.privacy.dp.randomness import RandomSource, SecureRandom


def _check_k(n_categories: int) -> int:
    if isinstance(n_categories, bool) or not isinstance(n_categories, Integral) or n_categories < 2:
        raise ConfigError(f"n_categories must be an integer >= 2, not {n_categories!r}")
    return int(n_categories)


def _categories(values: Any, k: int, what: str) -> np.ndarray:
    array = np.asarray(values)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.issubdtype(array.dtype, np.floating) or not np.all(array == np.round(array)):
            raise DataError(f"{what} must be integer category codes 0..{k - 1}")
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= k):
        raise DataError(f"{what} must lie in 0..{k - 1}; found {array.min()}..{array.max()}")
    return array


def keep_probability(*, n_categories: int, epsilon: float) -> float:
    """P(report = truth) = e^ε / (e^ε + k − 1)."""
    k, epsilon = _check_k(n_categories), check_epsilon(epsilon)
    # Written as 1 / (1 + (k − 1)e^−ε) so that a large ε does not overflow.
    return 1.0 / (1.0 + (k - 1) * math.exp(-epsilon))


def randomized_response(
    values: Any, *, n_categories: int, epsilon: float, rng: RandomSource | None = None
) -> np.ndarray:
    """Privatise integer category codes ``values`` (any shape) with k-ary RR, ε-local DP.

    Returns an int64 array of the same shape, each entry in ``0..n_categories-1``.
    """
    p = keep_probability(n_categories=n_categories, epsilon=epsilon)
    k = int(n_categories)
    truth = _categories(values, k, "values")
    rng = rng if rng is not None else SecureRandom()
    keep = rng.uniform(truth.shape) < p
    # A uniform pick among the k − 1 other codes: draw from 0..k−2, then skip over the truth.
    # floor(u·(k−1)) on 53-bit uniforms is biased by under (k−1)·2^-53, far below any ε effect.
    other = np.floor(rng.uniform(truth.shape) * (k - 1)).astype(np.int64)
    other = np.minimum(other, k - 2)
    other += other >= truth
    return np.where(keep, truth, other)


def rr_unbiased_frequencies(reports: Any, *, n_categories: int, epsilon: float) -> np.ndarray:
    """Unbiased estimate of the true category frequencies from k-ary RR ``reports``.

    With p the keep probability and q = (1 − p)/(k − 1), E[observed_j] = q + (p − q)·true_j,
    so true_j ≈ (observed_j − q)/(p − q). Returns k floats summing to 1; entries may fall
    outside [0, 1] for small samples (clipping them would bias the estimate).
    """
    p = keep_probability(n_categories=n_categories, epsilon=epsilon)
    k = int(n_categories)
    codes = _categories(reports, k, "reports").ravel()
    if codes.size == 0:
        raise DataError("no reports to estimate frequencies from")
    observed = np.bincount(codes, minlength=k) / codes.size
    q = (1.0 - p) / (k - 1)
    return (observed - q) / (p - q)
