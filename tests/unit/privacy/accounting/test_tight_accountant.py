"""The tightest valid ε: exact Gaussian DP without subsampling, RDP otherwise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from medfed.privacy.accounting import RDPAccountant, TightAccountant
from medfed.privacy.accounting.tight import full_participation_mu

pytestmark = pytest.mark.clause("5.4.3.3-3", "5.4.3.3-4")


def _hockey_stick(mu: float, epsilon: float) -> float:
    """δ(ε) of N(μ, 1) against N(0, 1) by numerical integration, independent of the closed form."""
    p, q = stats.norm(mu, 1).pdf, stats.norm(0, 1).pdf
    value, _ = integrate.quad(lambda x: max(0.0, p(x) - math.exp(epsilon) * q(x)), -20, 20 + mu, limit=400)
    return value


@pytest.mark.parametrize(("sigma", "rounds"), [(0.6, 1), (0.64, 1), (1.43, 5), (3.0, 20)])
def test_full_participation_epsilon_is_the_exact_gaussian_curve(sigma: float, rounds: int) -> None:
    accountant = TightAccountant()
    for _ in range(rounds):
        accountant.step(noise_multiplier=sigma, sample_rate=1.0)
    epsilon = accountant.epsilon(1e-5)
    mu = math.sqrt(rounds) / sigma
    # At the reported ε the true δ of the composed mechanism is 1e-5, no more.
    assert _hockey_stick(mu, epsilon) == pytest.approx(1e-5, rel=1e-3)
    assert _hockey_stick(mu, epsilon * 0.98) > 1e-5
    assert epsilon < accountant.rdp_epsilon(1e-5)


@pytest.mark.parametrize(("sigma", "rounds"), [(0.6, 1), (1.43, 5), (3.0, 20)])
def test_agrees_with_opacus_prv_accountant(sigma: float, rounds: int) -> None:
    from opacus.accountants import PRVAccountant

    ours = TightAccountant()
    ours.step(noise_multiplier=sigma, sample_rate=1.0, steps=rounds)
    theirs = PRVAccountant()
    theirs.history = [(sigma, 1.0, rounds)]
    reference = theirs.get_epsilon(delta=1e-5)
    # PRV's answer is an upper bound within its error of 0.01 above the true ε.
    assert ours.epsilon(1e-5) <= reference
    assert ours.epsilon(1e-5) == pytest.approx(reference, abs=0.02)


def test_subsampled_steps_fall_back_to_rdp() -> None:
    tight, rdp = TightAccountant(), RDPAccountant()
    for accountant in (tight, rdp):
        accountant.step(noise_multiplier=1.0, sample_rate=0.03, steps=100)
        accountant.step(noise_multiplier=0.8, sample_rate=1.0, steps=1)
    assert full_participation_mu(tight.history) is None
    assert tight.epsilon(1e-5) == pytest.approx(rdp.epsilon(1e-5), rel=1e-12)


def test_no_noise_is_infinite_and_no_step_is_zero() -> None:
    accountant = TightAccountant()
    assert accountant.epsilon(1e-5) == 0.0
    accountant.step(noise_multiplier=0.0, sample_rate=1.0)
    assert math.isinf(accountant.epsilon(1e-5))


def test_state_round_trips() -> None:
    accountant = TightAccountant()
    accountant.step(noise_multiplier=0.7, sample_rate=1.0, steps=2)
    again = TightAccountant()
    again.load_state_dict(accountant.state_dict())
    assert again.epsilon(1e-6) == accountant.epsilon(1e-6)
    assert np.isfinite(again.epsilon(1e-6))
