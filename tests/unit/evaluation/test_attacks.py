"""The loss-threshold membership-inference attack (Yeom et al. 2018)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from medfed.errors import DataError
from medfed.evaluation.attacks import AttackResult, loss_threshold_attack

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


def test_the_attack_module_never_imports_torch() -> None:
    code = (
        "import sys, medfed.evaluation.attacks; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'opacus')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
