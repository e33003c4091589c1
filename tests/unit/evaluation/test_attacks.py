"""Membership-inference attacks: loss threshold (Yeom et al. 2018) and shadow models (Shokri et al. 2017)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from medfed.errors import DataError
from medfed.evaluation._privacy_section import privacy_section
from medfed.evaluation.attacks import (
    AttackResult,
    loss_threshold_attack,
    output_features,
    shadow_attack,
)

pytestmark = pytest.mark.clause("5.4.3.3-3")


def test_identical_loss_distributions_give_chance_auc_and_little_advantage() -> None:
    rng = np.random.default_rng(0)
    result = loss_threshold_attack(rng.exponential(1.0, 5_000), rng.exponential(1.0, 5_000))
    assert result.auc == pytest.approx(0.5, abs=0.02)
    assert 0.0 <= result.advantage < 0.05


def test_separated_losses_give_auc_near_one_and_a_threshold_between_them() -> None:
    rng = np.random.default_rng(1)
    members = rng.normal(0.1, 0.05, 1_000)  # memorised: low loss
    others = rng.normal(2.0, 0.3, 1_000)
    result = loss_threshold_attack(members, others)
    assert result.auc > 0.999 and result.advantage > 0.99
    assert members.max() <= result.threshold < others.min()


def test_auc_is_the_chance_a_member_has_the_lower_loss() -> None:
    members, others = np.array([0.1, 0.5, 0.9]), np.array([0.3, 0.7, 1.1, 0.5])
    pairs = [(m < o) + 0.5 * (m == o) for m in members for o in others]
    assert loss_threshold_attack(members, others).auc == pytest.approx(np.mean(pairs))


def test_advantage_is_tpr_minus_fpr_at_the_reported_threshold() -> None:
    rng = np.random.default_rng(2)
    members, others = rng.normal(0.8, 0.4, 700), rng.normal(1.0, 0.4, 900)
    result = loss_threshold_attack(members, others)
    tpr = np.mean(members <= result.threshold)
    fpr = np.mean(others <= result.threshold)
    assert result.advantage == pytest.approx(tpr - fpr)
    assert isinstance(result, AttackResult)


def test_noisier_training_signal_weakens_the_attack() -> None:
    # A stand-in for DP: the member/non-member gap in loss shrinks relative to the spread.
    rng = np.random.default_rng(3)
    overfit = loss_threshold_attack(rng.normal(0.2, 0.2, 2_000), rng.normal(1.0, 0.2, 2_000))
    private = loss_threshold_attack(rng.normal(0.95, 0.2, 2_000), rng.normal(1.0, 0.2, 2_000))
    assert private.auc < overfit.auc and private.advantage < overfit.advantage


@pytest.mark.parametrize(
    ("members", "others", "reason"),
    [
        ([], [1.0], "member_losses is empty"),
        ([1.0], [], "nonmember_losses is empty"),
        ([1.0, np.nan], [1.0], "NaN"),
        ([1.0], [np.inf], "NaN or infinite"),
    ],
)
def test_unusable_losses_are_refused(
    members: list[float], others: list[float], reason: str
) -> None:
    with pytest.raises(DataError, match=reason):
        loss_threshold_attack(np.array(members), np.array(others))


def _synthetic(rng: np.random.Generator, gap: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(2n, 2) features, members first: members' first feature is shifted by ``gap``."""
    members = rng.normal(0.0, 1.0, (n, 2)) + np.array([gap, 0.0])
    others = rng.normal(0.0, 1.0, (n, 2))
    return members, others


def test_shadow_attack_separates_members_when_their_outputs_differ() -> None:
    rng = np.random.default_rng(4)
    shadow_in, shadow_out = _synthetic(rng, 2.0, 1_000)
    target_in, target_out = _synthetic(rng, 2.0, 1_000)
    result = shadow_attack(
        np.concatenate([shadow_in, shadow_out]),
        np.repeat([True, False], 1_000),
        target_in,
        target_out,
    )
    assert result.auc > 0.85  # Φ(2/√2) ≈ 0.92 for this gap
    assert result.advantage > 0.5 and result.threshold == 0.5


def test_shadow_attack_is_at_chance_when_members_look_like_everyone_else() -> None:
    rng = np.random.default_rng(5)
    shadow_in, shadow_out = _synthetic(rng, 0.0, 2_000)
    target_in, target_out = _synthetic(rng, 0.0, 2_000)
    result = shadow_attack(
        np.concatenate([shadow_in, shadow_out]), np.repeat([True, False], 2_000), target_in, target_out
    )
    assert result.auc == pytest.approx(0.5, abs=0.03)
    assert abs(result.advantage) < 0.05


def test_shadow_attack_decides_without_hindsight() -> None:
    # Shadows that overfit more than the target teach a threshold the target's members miss:
    # the ranking (AUC) survives, the learned decision's advantage does not.
    rng = np.random.default_rng(6)
    shadow_in, shadow_out = _synthetic(rng, 6.0, 1_000)
    target_in, target_out = _synthetic(rng, 1.5, 1_000)
    shadow_only = shadow_attack(
        np.concatenate([shadow_in, shadow_out]), np.repeat([True, False], 1_000), target_in, target_out
    )
    hindsight = loss_threshold_attack(-target_in[:, 0], -target_out[:, 0])
    assert shadow_only.auc == pytest.approx(hindsight.auc, abs=0.01)
    assert shadow_only.advantage < hindsight.advantage - 0.1


def test_output_features_are_logit_scaled_true_class_then_sorted_probabilities() -> None:
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    features = output_features(proba, np.array([1, 2]))
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    assert features.shape == (2, 3)
    np.testing.assert_allclose(features[:, 0], logit(np.array([0.2, 0.6])))
    np.testing.assert_allclose(features[0, 1:], logit(np.array([0.7, 0.2])))
    np.testing.assert_allclose(features[1, 1:], logit(np.array([0.6, 0.3])))


def test_output_features_stay_finite_for_saturated_softmax_outputs() -> None:
    # float32 softmax rounds a confident output to exactly (1, 0): still a finite feature.
    features = output_features(np.array([[1.0, 0.0], [1.0, 1e-12]]), np.array([0, 0]))
    assert np.all(np.isfinite(features))
    assert features.shape == (2, 2) and features[1, 0] == pytest.approx(np.log(1e12))


@pytest.mark.parametrize(
    ("proba", "labels", "reason"),
    [
        (np.ones((2, 1)), np.array([0, 0]), "must be"),
        (np.full((2, 2), 0.5), np.array([0]), "must be"),
        (np.array([[0.5, np.nan]]), np.array([0]), "NaN"),
        (np.full((1, 2), 0.5), np.array([2]), "labels must lie"),
    ],
)
def test_unusable_model_outputs_are_refused(proba: np.ndarray, labels: np.ndarray, reason: str) -> None:
    with pytest.raises(DataError, match=reason):
        output_features(proba, labels)


@pytest.mark.parametrize(
    ("members", "target_width", "reason"),
    [
        (np.ones(4, dtype=bool), 2, "both in and out"),
        (np.array([True, False, True]), 2, "3 labels for 4"),
        (np.array([True, False, True, False]), 3, "has 3 features"),
    ],
)
def test_shadow_attack_refuses_unusable_training_data(
    members: np.ndarray, target_width: int, reason: str
) -> None:
    with pytest.raises(DataError, match=reason):
        shadow_attack(np.zeros((4, 2)), members, np.zeros((3, target_width)), np.zeros((3, target_width)))


def test_the_report_shows_both_attacks_side_by_side() -> None:
    attack = {
        "attack": "loss_threshold", "auc": 0.6123, "advantage": 0.3177, "records": 240,
        "nonmembers": "validation",
        "shadow": {"attack": "shadow_models", "auc": 0.5944, "advantage": 0.2333, "shadow_models": 2,
                   "shadow_records": 156, "recipe": "plain"},
    }
    html = privacy_section({"privacy": {"mechanism": "none", "membership_inference": attack}})
    assert "loss threshold" in html and "shadow models (2)" in html
    assert all(figure in html for figure in ("0.612", "0.318", "0.594", "0.233", "156 test-split records"))
    assert "against validation records" in html


def test_the_report_says_why_the_shadow_attack_was_skipped() -> None:
    attack = {"attack": "loss_threshold", "auc": 0.5, "advantage": 0.0, "records": 40,
              "shadow": {"attack": "shadow_models", "skipped": "too few attacker-owned records"}}
    html = privacy_section({"privacy": {"membership_inference": attack}})
    assert "skipped: too few attacker-owned records" in html and "shadow models (" not in html


def test_the_attack_module_never_imports_torch() -> None:
    code = (
        "import sys, medfed.evaluation.attacks; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'opacus')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
