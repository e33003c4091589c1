"""Noise calibrated to sensitivity (clause 5.4.3.3-1) and the exponential mechanism (-2).

Every mechanism takes ``rng``; ``None`` means a fresh :class:`SecureRandom`, so production
code never draws DP noise from a seedable generator by accident.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import numpy as np
from scipy import optimize, special

from medfed.errors import ConfigError
from medfed.privacy.dp._checks import check_delta, check_epsilon, check_sensitivity
from medfed.privacy.dp.randomness import RandomSource, SecureRandom


class GaussianCalibration(StrEnum):
    """How :func:`gaussian_mechanism` turns (ε, δ) into a noise standard deviation."""

    CLASSIC = "classic"  # Dwork & Roth 2014, Thm A.1; proven only for ε < 1
    ANALYTIC = "analytic"  # Balle & Wang 2018, exact; valid for every ε > 0


def _add(value: Any, noise: np.ndarray) -> Any:
    """value + noise in float64; a scalar in gives a float out."""
    out = np.asarray(value, dtype=np.float64) + noise
    return float(out) if out.ndim == 0 else out


def laplace_mechanism(
    value: Any, *, sensitivity: float, epsilon: float, rng: RandomSource | None = None
) -> Any:
    """Release ``value`` (a float or array of any shape) with Laplace noise: ε-DP.

    ``sensitivity`` is the L1 sensitivity of the query that produced ``value`` (the whole
    array together), in the value's units; the noise scale is ``sensitivity / epsilon``.
    Returns a float for a scalar input, else a float64 array of the same shape.
    """
    scale = check_sensitivity(sensitivity) / check_epsilon(epsilon)
    rng = rng if rng is not None else SecureRandom()
    return _add(value, rng.laplace(np.shape(value), scale))


def gaussian_sigma_classic(*, epsilon: float, delta: float, sensitivity: float) -> float:
    """σ = sensitivity · sqrt(2 ln(1.25/δ)) / ε (Dwork & Roth 2014, Thm A.1); needs ε < 1."""
    epsilon, delta = check_epsilon(epsilon), check_delta(delta)
    sensitivity = check_sensitivity(sensitivity)
    if epsilon >= 1:
        raise ConfigError(
            f"the classic Gaussian calibration is proven only for epsilon < 1, not {epsilon:g}; "
            "use GaussianCalibration.ANALYTIC (gaussian_sigma_analytic), which holds for any epsilon"
        )
    return sensitivity * math.sqrt(2.0 * math.log(1.25 / delta)) / epsilon


def _log_delta(sigma: float, epsilon: float, sensitivity: float) -> float:
    """log δ(σ) of the Gaussian mechanism, exact (Balle & Wang 2018, Thm 8), in log space
    because δ(σ) is a difference of two tiny normal tails when δ is small."""
    a = sensitivity / (2 * sigma) - epsilon * sigma / sensitivity
    b = -sensitivity / (2 * sigma) - epsilon * sigma / sensitivity
    log_first = special.log_ndtr(a)
    ratio = math.exp(min(0.0, epsilon + special.log_ndtr(b) - log_first))
    return float(log_first + math.log1p(-ratio)) if ratio < 1 else -math.inf


def gaussian_sigma_analytic(*, epsilon: float, delta: float, sensitivity: float) -> float:
    """Smallest σ for which Gaussian noise gives (ε, δ)-DP at L2 ``sensitivity``.

    Exact calibration of Balle & Wang 2018 (solved here by root finding on log σ rather
    than their reparametrisation); smaller than the classic σ and valid for any ε > 0.
    """
    epsilon, delta = check_epsilon(epsilon), check_delta(delta)
    sensitivity = check_sensitivity(sensitivity)
    if sensitivity == 0:
        return 0.0
    target = math.log(delta)

    def gap(log_sigma: float) -> float:
        return _log_delta(math.exp(log_sigma), epsilon, sensitivity) - target

    # δ(σ) falls from 1 to 0 as σ grows; widen the bracket until it straddles the root.
    lo, hi = math.log(sensitivity) - 1.0, math.log(sensitivity) + 1.0
    while gap(lo) < 0:
        lo -= 2.0
    while gap(hi) > 0:
        hi += 2.0
    root = optimize.brentq(gap, lo, hi, xtol=1e-14, rtol=1e-14)
    # Round up by a hair so that the σ returned never falls short of δ.
    return float(math.exp(root) * (1 + 1e-12))


def gaussian_mechanism(
    value: Any,
    *,
    sensitivity: float,
    epsilon: float,
    delta: float,
    rng: RandomSource | None = None,
    calibration: GaussianCalibration = GaussianCalibration.CLASSIC,
) -> Any:
    """Release ``value`` with Gaussian noise: (ε, δ)-DP for L2 ``sensitivity``.

    The default calibration is the classic σ = sensitivity·sqrt(2 ln(1.25/δ))/ε, proven
    only for ε < 1 (a larger ε is refused with the fix); ``ANALYTIC`` uses the exact, smaller
    σ of :func:`gaussian_sigma_analytic`. Shapes and units as :func:`laplace_mechanism`.
    """
    kind = GaussianCalibration(calibration)
    sigma_of = (
        gaussian_sigma_classic if kind is GaussianCalibration.CLASSIC else gaussian_sigma_analytic
    )
    sigma = sigma_of(epsilon=epsilon, delta=delta, sensitivity=sensitivity)
    rng = rng if rng is not None else SecureRandom()
    return _add(value, rng.normal(np.shape(value), sigma))


def exponential_mechanism(
    candidates: Sequence[Any],
    scores: Sequence[float] | np.ndarray,
    *,
    sensitivity: float,
    epsilon: float,
    rng: RandomSource | None = None,
) -> int:
    """Pick an index into ``candidates`` with P(i) ∝ exp(ε · scores[i] / (2 · sensitivity)).

    ε-DP when ``sensitivity`` bounds how much any one record can change any score (the
    utility's sensitivity, in score units). Higher score = better candidate.
    """
    epsilon = check_epsilon(epsilon)
    sensitivity = check_sensitivity(sensitivity, positive=True)
    if len(candidates) == 0:
        raise ConfigError("the exponential mechanism needs at least one candidate")
    utility = np.asarray(scores, dtype=np.float64)
    if utility.shape != (len(candidates),):
        raise ConfigError(
            f"need one score per candidate: {len(candidates)} candidates, scores of shape {utility.shape}"
        )
    if not np.all(np.isfinite(utility)):
        raise ConfigError("scores must be finite numbers")
    logits = epsilon * utility / (2.0 * sensitivity)
    # Subtracting the max keeps exp() finite; the distribution is unchanged.
    weights = np.exp(logits - logits.max())
    cumulative = np.cumsum(weights)
    rng = rng if rng is not None else SecureRandom()
    u = float(rng.uniform()) * cumulative[-1]
    index = int(np.searchsorted(cumulative, u, side="right"))
    return min(index, len(candidates) - 1)
