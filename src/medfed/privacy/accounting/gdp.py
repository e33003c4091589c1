"""Gaussian-DP accountant (Dong, Roth & Su 2022; Bu et al. 2020): the CLT approximation.

``steps`` steps of the Poisson-subsampled Gaussian mechanism are approximately μ-GDP with
μ = q·sqrt(steps·(exp(1/σ²) − 1)). Blocks of different (σ, q) compose exactly as GDP:
μ = sqrt(Σ μ_i²). μ-GDP implies (ε, δ(ε))-DP for
δ(ε) = Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2), which is inverted for ε.

The CLT is an approximation and can *underestimate* ε when steps are few or q is large
(Gopi et al. 2021); enforce hard budgets with :class:`RDPAccountant`.
"""

from __future__ import annotations

import math

from scipy import optimize, special

from medfed.privacy.accounting.base import HistoryAccountant, check_delta


def gdp_mu(*, noise_multiplier: float, sample_rate: float, steps: int) -> float:
    """μ of ``steps`` Poisson-subsampled Gaussian steps under the CLT (Bu et al. 2020)."""
    if sample_rate == 0:
        return 0.0
    if noise_multiplier == 0:
        return math.inf
    return sample_rate * math.sqrt(steps * math.expm1(noise_multiplier**-2))


def _log_delta(epsilon: float, mu: float) -> float:
    # δ is a difference of two normal tails; log space keeps it accurate when δ is tiny.
    log_first = special.log_ndtr(-epsilon / mu + mu / 2)
    ratio = math.exp(min(0.0, epsilon + special.log_ndtr(-epsilon / mu - mu / 2) - log_first))
    return float(log_first + math.log1p(-ratio)) if ratio < 1 else -math.inf


def gdp_epsilon(*, mu: float, delta: float) -> float:
    """Smallest ε with δ(ε) <= ``delta`` for a μ-GDP mechanism."""
    if mu == 0:
        return 0.0
    if math.isinf(mu):
        return math.inf
    target = math.log(delta)
    if _log_delta(0.0, mu) <= target:
        return 0.0

    def gap(epsilon: float) -> float:
        return _log_delta(epsilon, mu) - target

    hi = max(1.0, mu)
    while gap(hi) > 0:
        hi *= 2
    return float(optimize.brentq(gap, 0.0, hi, xtol=1e-13, rtol=1e-13))


class GDPAccountant(HistoryAccountant):
    """Gaussian-DP accountant by the central limit theorem; cheap, approximate."""

    mechanism = "gdp"

    def mu(self) -> float:
        """μ of everything accounted so far (0 before any step)."""
        return math.sqrt(
            sum(
                gdp_mu(
                    noise_multiplier=s.noise_multiplier, sample_rate=s.sample_rate, steps=s.steps
                )
                ** 2
                for s in self._history
            )
        )

    def epsilon(self, delta: float) -> float:
        """ε at ``delta`` for the composed μ (0 before any step)."""
        return gdp_epsilon(mu=self.mu(), delta=check_delta(delta))
