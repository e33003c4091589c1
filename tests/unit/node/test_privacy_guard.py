from __future__ import annotations

import numpy as np
import pytest

from medfed.node.privacy import PrivacyBudgetError, PrivacyGuard, RoundPrivacy, clip_update

DP = RoundPrivacy(mechanism="dp_sgd", noise_multiplier=1.0, clip_norm=1.0, delta=1e-5)


@pytest.mark.clause("5.4.3.3-4")
def test_epsilon_accumulates_round_by_round() -> None:
    guard = PrivacyGuard()
    first = guard.admit(DP, sample_rate=0.1, steps=10)
    second = guard.admit(DP, sample_rate=0.1, steps=10)
    assert 0 < first < second == pytest.approx(guard.epsilon(1e-5))


@pytest.mark.clause("5.4.3.3-4")
def test_a_round_over_the_hospital_cap_is_refused_and_spends_nothing() -> None:
    guard = PrivacyGuard(max_epsilon=3.0)
    spent = guard.admit(DP, sample_rate=0.05, steps=5)
    with pytest.raises(PrivacyBudgetError, match="above this hospital's cap of 3"):
        for _ in range(100):
            guard.admit(DP, sample_rate=0.05, steps=5)
    assert guard.epsilon(1e-5) <= 3.0 and guard.epsilon(1e-5) >= spent
    with pytest.raises(PrivacyBudgetError, match="no finite epsilon"):
        guard.admit(RoundPrivacy("none", 0.0, 1.0, 1e-5), sample_rate=1.0, steps=1)


def test_clipping_bounds_the_update_norm_and_keeps_small_updates() -> None:
    old = {"w": np.zeros(3, np.float32), "c": np.array(7)}
    new = {"w": np.array([3.0, 4.0, 0.0], np.float32), "c": np.array(9)}
    clipped, norm = clip_update(new, old, 1.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(clipped["w"], [0.6, 0.8, 0.0], rtol=1e-6)
    assert int(clipped["c"]) == 9
    small = {"w": np.array([0.1, 0.0, 0.0], np.float32), "c": np.array(9)}
    assert np.array_equal(clip_update(small, old, 1.0)[0]["w"], small["w"])


@pytest.mark.clause("5.4.3.3-5")
def test_client_level_rounds_are_capped_by_the_exact_curve_not_the_looser_bound() -> None:
    # σ = 0.62, one client-level round: exact ε 7.69, RDP bound 8.27. A cap of 8 admits it.
    guard = PrivacyGuard(max_epsilon=8.0)
    plan = RoundPrivacy(mechanism="dp_fedavg", noise_multiplier=0.62, clip_norm=1.0, delta=1e-5)
    after = guard.admit(plan, sample_rate=1.0, steps=1)
    assert 7.5 < after < 8.0
    assert guard.accountant.rdp_epsilon(1e-5) > 8.0
    # A second round would exceed the cap by any account and is refused, spending nothing.
    with pytest.raises(PrivacyBudgetError, match="above this hospital's cap"):
        guard.admit(plan, sample_rate=1.0, steps=1)
    assert guard.epsilon(1e-5) == pytest.approx(after)


@pytest.mark.clause("5.4.3.3-4")
@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"mechanism": "dp_fedavg2", "noise_multiplier": 1.0}, "this node applies dp_fedavg, dp_sgd, none"),
        ({"mechanism": "dp_fedavg", "noise_multiplier": 1.0, "encryption": "ckks"}, "adds no noise"),
    ],
)
def test_a_task_the_node_cannot_make_private_as_accounted_is_refused(config: dict, reason: str) -> None:
    from medfed.errors import ConfigError

    with pytest.raises(ConfigError, match=reason):
        RoundPrivacy.from_task(config)
