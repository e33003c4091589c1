"""The noise multiplier for a target ε, against Opacus's get_noise_multiplier."""

from __future__ import annotations

import warnings

import pytest

from medfed.errors import ConfigError
from medfed.privacy.accounting import GDPAccountant, RDPAccountant, noise_for_epsilon

pytestmark = pytest.mark.clause("5.4.3.3-3", "5.4.3.3-4")


def _epsilon(noise: float, rate: float, steps: int, delta: float) -> float:
    accountant = RDPAccountant()
    accountant.step(noise_multiplier=noise, sample_rate=rate, steps=steps)
    return accountant.epsilon(delta)


@pytest.mark.parametrize(
    ("target", "delta", "rate", "steps"),
    [(1.0, 1e-5, 0.01, 1_000), (8.0, 1e-5, 0.004, 2_500), (3.0, 1e-6, 0.02, 300)],
)
def test_noise_matches_opacus_and_never_overspends(
    target: float, delta: float, rate: float, steps: int
) -> None:
    from opacus.accountants.utils import get_noise_multiplier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = get_noise_multiplier(
            target_epsilon=target, target_delta=delta, sample_rate=rate, steps=steps
        )
    ours = noise_for_epsilon(target_epsilon=target, delta=delta, sample_rate=rate, steps=steps)
    # Both bisect to within 0.01 of the target ε from below, so both σ lie in one narrow band.
    assert ours == pytest.approx(theirs, rel=0.01)
    assert target - 0.01 <= _epsilon(ours, rate, steps, delta) <= target


def test_a_tighter_tolerance_lands_closer_to_the_target() -> None:
    noise = noise_for_epsilon(
        target_epsilon=2.0, delta=1e-5, sample_rate=0.01, steps=500, epsilon_tolerance=1e-6
    )
    assert _epsilon(noise, 0.01, 500, 1e-5) == pytest.approx(2.0, abs=1e-6)


def test_another_accountant_can_be_inverted() -> None:
    noise = noise_for_epsilon(
        target_epsilon=2.0, delta=1e-5, sample_rate=0.01, steps=500, accountant=GDPAccountant
    )
    gdp = GDPAccountant()
    gdp.step(noise_multiplier=noise, sample_rate=0.01, steps=500)
    assert 1.99 <= gdp.epsilon(1e-5) <= 2.0


def test_an_unreachable_budget_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="raise the budget"):
        noise_for_epsilon(target_epsilon=1e-3, delta=1e-5, sample_rate=0.5, steps=10_000)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"target_epsilon": 0.0}, "target_epsilon"),
        ({"delta": 1.0}, "delta"),
        ({"sample_rate": 2.0}, "sample_rate"),
        ({"steps": 0}, "steps"),
    ],
)
def test_invalid_targets_are_refused(kwargs: dict[str, float], reason: str) -> None:
    params = {"target_epsilon": 1.0, "delta": 1e-5, "sample_rate": 0.01, "steps": 10, **kwargs}
    with pytest.raises(ConfigError, match=reason):
        noise_for_epsilon(**params)  # type: ignore[arg-type]
