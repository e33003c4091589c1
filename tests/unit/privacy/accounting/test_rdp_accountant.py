"""The RDP accountant: ε agrees with Opacus, grows with use, and survives a restart."""

from __future__ import annotations

import functools
import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medfed.errors import ConfigError
from medfed.privacy.accounting import DEFAULT_ORDERS, Accountant, RDPAccountant, Step

pytestmark = pytest.mark.clause("5.4.3.3-3", "5.4.3.3-4")

NOISE = (0.5, 0.8, 1.0, 2.0, 5.0)
RATES = (0.001, 0.01, 0.1, 0.5)
STEPS = (1, 10, 100, 1_000, 10_000)
DELTAS = (1e-5, 1e-6)


def _ours(noise: float, rate: float, steps: int, delta: float) -> float:
    accountant = RDPAccountant()
    accountant.step(noise_multiplier=noise, sample_rate=rate, steps=steps)
    return accountant.epsilon(delta)


@functools.cache
def _opacus_rdp_per_step(noise: float, rate: float) -> np.ndarray:
    from opacus.accountants.analysis import rdp

    return rdp.compute_rdp(q=rate, noise_multiplier=noise, steps=1, orders=list(DEFAULT_ORDERS))


def _opacus(noise: float, rate: float, steps: int, delta: float) -> float:
    """Opacus's RDPAccountant.get_epsilon for history [(noise, rate, steps)]: its RDP (which is
    linear in steps, so computed once per noise and rate) through its own conversion."""
    from opacus.accountants.analysis import rdp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "optimal order is the largest alpha"
        eps, _ = rdp.get_privacy_spent(
            orders=list(DEFAULT_ORDERS), rdp=_opacus_rdp_per_step(noise, rate) * steps, delta=delta
        )
    return float(eps)


def test_default_orders_are_opacus_orders() -> None:
    from opacus.accountants import RDPAccountant as OpacusRDP

    assert list(DEFAULT_ORDERS) == OpacusRDP.DEFAULT_ALPHAS


@pytest.mark.parametrize("noise", NOISE)
@pytest.mark.parametrize("rate", RATES)
def test_epsilon_matches_opacus_on_a_grid(noise: float, rate: float) -> None:
    for steps in STEPS:
        for delta in DELTAS:
            assert _ours(noise, rate, steps, delta) == pytest.approx(
                _opacus(noise, rate, steps, delta), rel=1e-6
            ), (noise, rate, steps, delta)


@pytest.mark.parametrize(
    ("noise", "rate", "steps", "delta"),
    [(1.1, 0.004, 2_500, 1e-5), (0.6, 0.3, 7, 1e-6), (3.0, 0.02, 400, 1e-5)],
)
def test_epsilon_matches_the_opacus_accountant_object(
    noise: float, rate: float, steps: int, delta: float
) -> None:
    from opacus.accountants import RDPAccountant as OpacusRDP

    theirs = OpacusRDP()
    theirs.history = [(noise, rate, steps)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = theirs.get_epsilon(delta)
    assert _ours(noise, rate, steps, delta) == pytest.approx(expected, rel=1e-6)


def test_a_history_of_different_steps_composes_as_in_opacus() -> None:
    from opacus.accountants import RDPAccountant as OpacusRDP

    plan = [(1.0, 0.01, 3), (2.0, 0.05, 2), (1.0, 0.01, 1), (1.0, 1.0, 2)]
    ours, theirs = RDPAccountant(), OpacusRDP()
    for noise, rate, steps in plan:
        ours.step(noise_multiplier=noise, sample_rate=rate, steps=steps)
        for _ in range(steps):
            theirs.step(noise_multiplier=noise, sample_rate=rate)
    assert [tuple(s) for s in ours.history] == theirs.history
    assert ours.epsilon(1e-5) == pytest.approx(theirs.get_epsilon(1e-5), rel=1e-6)


def test_full_participation_is_the_plain_gaussian_mechanism() -> None:
    # Client-level DP-FedAvg accounts with sample rate 1: RDP is exactly α / (2σ²) per step.
    accountant = RDPAccountant(orders=[2.0, 8.0, 32.0])
    accountant.step(noise_multiplier=2.0, sample_rate=1.0, steps=5)
    delta = 1e-5
    expected = min(
        5 * a / 8 - (math.log(delta) + math.log(a)) / (a - 1) + math.log((a - 1) / a)
        for a in (2.0, 8.0, 32.0)
    )
    assert accountant.epsilon(delta) == pytest.approx(expected, rel=1e-12)


def test_no_steps_spend_nothing_and_no_noise_spends_everything() -> None:
    accountant = RDPAccountant()
    assert accountant.epsilon(1e-5) == 0.0
    accountant.step(noise_multiplier=0.0, sample_rate=0.1)
    assert accountant.epsilon(1e-5) == math.inf


@settings(max_examples=40, deadline=None)
@given(
    noise=st.floats(0.5, 5.0),
    rate=st.floats(0.001, 0.5),
    steps=st.integers(1, 10_000),
    more=st.integers(1, 10_000),
)
def test_epsilon_grows_with_steps(noise: float, rate: float, steps: int, more: int) -> None:
    assert _ours(noise, rate, steps, 1e-5) < _ours(noise, rate, steps + more, 1e-5)


@settings(max_examples=40, deadline=None)
@given(
    noise=st.floats(0.5, 5.0),
    rate=st.floats(0.001, 0.45),
    factor=st.floats(1.05, 2.0),
    steps=st.integers(1, 10_000),
)
def test_epsilon_grows_with_sample_rate(
    noise: float, rate: float, factor: float, steps: int
) -> None:
    assert _ours(noise, rate, steps, 1e-5) < _ours(noise, rate * factor, steps, 1e-5)


@settings(max_examples=40, deadline=None)
@given(
    noise=st.floats(0.5, 4.5),
    more=st.floats(0.05, 2.0),
    rate=st.floats(0.001, 0.5),
    steps=st.integers(1, 10_000),
)
def test_epsilon_falls_with_noise(noise: float, more: float, rate: float, steps: int) -> None:
    assert _ours(noise + more, rate, steps, 1e-5) < _ours(noise, rate, steps, 1e-5)


def test_consecutive_identical_steps_merge_and_the_history_is_read_only() -> None:
    accountant = RDPAccountant()
    accountant.step(noise_multiplier=1.0, sample_rate=0.1)
    accountant.step(noise_multiplier=1.0, sample_rate=0.1, steps=4)
    accountant.step(noise_multiplier=1.5, sample_rate=0.1)
    assert accountant.history == (Step(1.0, 0.1, 5), Step(1.5, 0.1, 1))
    assert isinstance(accountant.history, tuple) and len(accountant) == 2


def test_state_survives_json_and_restores_the_same_epsilon() -> None:
    accountant = RDPAccountant(orders=[1.5, 2.0, 4.0, 16.0])
    accountant.step(noise_multiplier=1.0, sample_rate=0.02, steps=300)
    accountant.step(noise_multiplier=0.9, sample_rate=0.02, steps=10)
    restored = RDPAccountant()
    restored.load_state_dict(json.loads(json.dumps(accountant.state_dict())))
    assert restored.history == accountant.history and restored.orders == accountant.orders
    assert restored.epsilon(1e-5) == accountant.epsilon(1e-5)


def test_the_accountant_meets_the_protocol() -> None:
    assert isinstance(RDPAccountant(), Accountant)


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ({"mechanism": "gdp", "history": []}, "not 'rdp'"),
        ({"mechanism": "rdp", "history": [[1.0, 0.1]]}, "list of"),
        ({"mechanism": "rdp", "history": [[1.0, 1.5, 3]]}, "sample_rate"),
        ({"mechanism": "rdp", "history": [], "orders": [0.5]}, "orders"),
    ],
)
def test_a_bad_state_is_refused(state: dict[str, object], reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        RDPAccountant().load_state_dict(state)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"noise_multiplier": -1.0}, "noise_multiplier"),
        ({"noise_multiplier": math.nan}, "noise_multiplier"),
        ({"sample_rate": 1.5}, "sample_rate"),
        ({"sample_rate": -0.1}, "sample_rate"),
        ({"steps": 0}, "steps"),
        ({"steps": 2.5}, "steps"),
    ],
)
def test_invalid_steps_are_refused_with_the_reason(kwargs: dict[str, float], reason: str) -> None:
    params = {"noise_multiplier": 1.0, "sample_rate": 0.1, "steps": 1, **kwargs}
    with pytest.raises(ConfigError, match=reason):
        RDPAccountant().step(**params)  # type: ignore[arg-type]


@pytest.mark.parametrize("delta", [0.0, 1.0, -1e-5])
def test_delta_outside_zero_one_is_refused(delta: float) -> None:
    accountant = RDPAccountant()
    accountant.step(noise_multiplier=1.0, sample_rate=0.1)
    with pytest.raises(ConfigError, match="delta"):
        accountant.epsilon(delta)
