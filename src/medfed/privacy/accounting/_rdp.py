"""Rényi DP of the subsampled Gaussian mechanism, and its conversion to (ε, δ). Pure math.

Notation (Mironov, Talwar & Zhang 2019, "Rényi DP of the Sampled Gaussian Mechanism"):
q is the Poisson sampling rate, σ the noise multiplier (noise std / L2 sensitivity), α > 1
the Rényi order. One step is (α, log(A_α)/(α − 1))-RDP, with A_α = E_{z~μ0}[(μ(z)/μ0(z))^α]
for μ0 = N(0, σ²) and μ = (1 − q)·μ0 + q·N(1, σ²). Everything is computed in log space.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import special

# Series terms below e^-30 of A_α (which is >= 1) are dropped, as in TF Privacy and Opacus.
_LOG_TAIL = -30.0


def _log_binom(alpha: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log|C(α, i)| and its sign, for real α and integer i >= 0 (Γ of a negative argument
    is fine: gammaln gives log|Γ| and gammasgn its sign)."""
    rest = alpha - i + 1.0
    log_abs = special.gammaln(alpha + 1.0) - special.gammaln(i + 1.0) - special.gammaln(rest)
    return log_abs, special.gammasgn(rest)


def _signed_logsumexp(logs: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """log(Σ sign·exp(log)) along the last axis; -inf where the sum is not positive."""
    top = np.max(logs, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    total = np.sum(signs * np.exp(logs - top), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, np.log(total) + top[..., 0], -np.inf)


def _log_a_integer(q: float, sigma: float, alphas: np.ndarray) -> np.ndarray:
    """log A_α for integer α: the binomial expansion
    A_α = Σ_{i=0..α} C(α,i) q^i (1−q)^(α−i) exp((i² − i)/(2σ²)), all terms positive."""
    i = np.arange(int(alphas.max()) + 1, dtype=np.float64)[None, :]
    a = alphas[:, None]
    log_c, _ = _log_binom(a, np.minimum(i, a))
    terms = log_c + i * math.log(q) + (a - i) * math.log1p(-q) + (i * i - i) / (2 * sigma**2)
    terms = np.where(i <= a, terms, -np.inf)
    return _signed_logsumexp(terms, np.ones_like(terms))


def _series_terms(q: float, sigma: float, alphas: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Terms of A_α = A_0 + A_1 for fractional α (Mironov et al. 2019, §3.3): the integral
    split at z0 = σ² ln(1/q − 1) + 1/2, each half a binomial series times a normal tail.
    For orders (rows) × indices (columns), returns log|s0|, log|s1| and sign C(α, i)."""
    z0 = sigma**2 * math.log(1.0 / q - 1.0) + 0.5
    a = alphas[:, None]
    j = a - i
    log_c, sign = _log_binom(a, i)
    log_half_erfc0 = special.log_ndtr((z0 - i) / sigma)  # ½ erfc((i − z0)/(√2 σ))
    log_half_erfc1 = special.log_ndtr((j - z0) / sigma)  # ½ erfc((z0 − j)/(√2 σ))
    s0 = (
        log_c + i * math.log(q) + j * math.log1p(-q) + (i * i - i) / (2 * sigma**2) + log_half_erfc0
    )
    s1 = (
        log_c + j * math.log(q) + i * math.log1p(-q) + (j * j - j) / (2 * sigma**2) + log_half_erfc1
    )
    return np.stack([s0, s1, np.broadcast_to(sign, s0.shape)])


def _log_a_fractional(q: float, sigma: float, alphas: np.ndarray) -> np.ndarray:
    """log A_α for non-integer α: each order's two series are summed up to the first index
    at which both terms fall below e^-30 (that term included). Terms decay only
    polynomially when q is large, so indices come in blocks of doubling length and only
    the orders not yet finished are extended."""
    n = alphas.size
    log_a = np.full(n, -np.inf)
    # Running signed sums per order, kept as (log of largest term so far, scaled sum).
    top = np.full(n, -np.inf)
    scaled = np.zeros(n)
    active = np.arange(n)
    start, block = 0, 64
    while active.size:
        i = np.arange(start, start + block, dtype=np.float64)[None, :]
        s0, s1, sign = _series_terms(q, sigma, alphas[active], i)
        # Written so that a NaN term (only from overflow) ends the series instead of looping.
        below = ~(np.maximum(s0, s1) >= _LOG_TAIL)
        finished = below.any(axis=1)
        # Keep indices up to and including each finished order's first tail term.
        last = np.where(finished, below.argmax(axis=1), block - 1)
        keep = np.arange(block)[None, :] <= last[:, None]
        logs = np.concatenate([np.where(keep, s0, -np.inf), np.where(keep, s1, -np.inf)], axis=1)
        signs = np.concatenate([sign, sign], axis=1)
        new_top = np.maximum(top[active], logs.max(axis=1))
        rescale = np.exp(np.where(np.isfinite(top[active]), top[active] - new_top, -np.inf))
        scaled[active] = scaled[active] * rescale + np.sum(
            signs * np.exp(logs - new_top[:, None]), axis=1
        )
        top[active] = new_top
        done = active[finished]
        # A_α >= 1 mathematically; a non-positive sum could only be rounding in the cancellation.
        with np.errstate(divide="ignore", invalid="ignore"):
            log_a[done] = np.where(scaled[done] > 0, np.log(scaled[done]) + top[done], -np.inf)
        active = active[~finished]
        start, block = start + block, 2 * block
    return log_a


def subsampled_gaussian_rdp(q: float, sigma: float, orders: Sequence[float]) -> np.ndarray:
    """RDP ε(α) of one step of the subsampled Gaussian mechanism at each order in ``orders``.

    ``q`` in [0, 1], ``sigma`` >= 0 (0 means no noise: ε = ∞), every order > 1.
    """
    alphas = np.asarray(orders, dtype=np.float64)
    if q == 0:
        return np.zeros_like(alphas)
    if sigma == 0:
        return np.full_like(alphas, np.inf)
    if q == 1:
        return alphas / (2 * sigma**2)
    log_a = np.empty_like(alphas)
    integer = alphas == np.round(alphas)
    if integer.any():
        log_a[integer] = _log_a_integer(q, sigma, alphas[integer])
    if (~integer).any():
        log_a[~integer] = _log_a_fractional(q, sigma, alphas[~integer])
    return log_a / (alphas - 1.0)


def rdp_to_epsilon(orders: Sequence[float], rdp: np.ndarray, delta: float) -> tuple[float, float]:
    """Smallest ε over the orders such that the RDP curve gives (ε, δ)-DP, and its order.

    Balle et al. 2020 ("Hypothesis testing interpretations and Rényi DP", Thm 21):
    ε = rdp(α) + log((α − 1)/α) − (log δ + log α)/(α − 1), the conversion Opacus uses.
    """
    alphas = np.asarray(orders, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        eps = (
            rdp - (math.log(delta) + np.log(alphas)) / (alphas - 1) + np.log((alphas - 1) / alphas)
        )
    if np.all(np.isnan(eps)):
        return math.inf, math.nan
    best = int(np.nanargmin(eps))
    return float(eps[best]), float(alphas[best])
