"""The Gaussian-DP (CLT) accountant against Opacus's GaussianAccountant."""

from __future__ import annotations

import math

import pytest

from medfed.errors import ConfigError
from medfed.privacy.accounting import GDPAccountant, RDPAccountant
from medfed.privacy.accounting.gdp import gdp_epsilon, gdp_mu

pytestmark = pytest.mark.clause("5.4.3.3-3", "5.4.3.3-4")


@pytest.mark.parametrize(
    ("noise", "rate", "steps", "delta"),
    [
        (1.0, 0.01, 1_000, 1e-5),
        (0.8, 0.004, 10_000, 1e-6),
        (2.0, 0.1, 500, 1e-5),
        (5.0, 0.5, 100, 1e-5),
    ],
)
def test_epsilon_matches_opacus_gaussian_accountant(
    noise: float, rate: float, steps: int, delta: float
) -> None:
    from opacus.accountants import GaussianAccountant

    with pytest.warns(UserWarning, match="experimental"):
        theirs = GaussianAccountant()
    theirs.history = [(noise, rate, steps)]
    ours = GDPAccountant()
    ours.step(noise_multiplier=noise, sample_rate=rate, steps=steps)
    assert ours.epsilon(delta) == pytest.approx(theirs.get_epsilon(delta), rel=1e-6)


def test_blocks_with_different_noise_compose_as_gdp() -> None:
    accountant = GDPAccountant()
    accountant.step(noise_multiplier=1.0, sample_rate=0.01, steps=300)
    accountant.step(noise_multiplier=2.0, sample_rate=0.02, steps=200)
    mu = math.hypot(
        gdp_mu(noise_multiplier=1.0, sample_rate=0.01, steps=300),
        gdp_mu(noise_multiplier=2.0, sample_rate=0.02, steps=200),
    )
    assert accountant.mu() == pytest.approx(mu)
    assert accountant.epsilon(1e-5) == pytest.approx(gdp_epsilon(mu=mu, delta=1e-5))


def test_gdp_and_rdp_agree_roughly_in_the_clt_regime() -> None:
    # Many steps at a small rate: the CLT is accurate and GDP is a little tighter than RDP.
    gdp, rdp = GDPAccountant(), RDPAccountant()
    for accountant in (gdp, rdp):
        accountant.step(noise_multiplier=1.0, sample_rate=0.01, steps=5_000)
    assert 0.6 * rdp.epsilon(1e-5) < gdp.epsilon(1e-5) < rdp.epsilon(1e-5)


def test_edge_cases_spend_nothing_or_everything() -> None:
    accountant = GDPAccountant()
    assert accountant.epsilon(1e-5) == 0.0
    accountant.step(noise_multiplier=0.0, sample_rate=0.1)
    assert accountant.epsilon(1e-5) == math.inf
    # A tiny μ already meets δ at ε = 0.
    assert gdp_epsilon(mu=1e-9, delta=1e-3) == 0.0


def test_state_round_trips_and_other_mechanisms_are_refused() -> None:
    accountant = GDPAccountant()
    accountant.step(noise_multiplier=1.0, sample_rate=0.01, steps=50)
    restored = GDPAccountant()
    restored.load_state_dict(accountant.state_dict())
    assert restored.epsilon(1e-5) == accountant.epsilon(1e-5)
    with pytest.raises(ConfigError, match="'gdp'"):
        RDPAccountant().load_state_dict(accountant.state_dict())
