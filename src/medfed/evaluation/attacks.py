"""Membership inference by loss threshold (Yeom et al. 2018), to measure what DP protects.

Clause 5.4.3.3-3 asks that DP resist membership inference: train with and without DP,
then see how well an attacker tells the training records (members) from held-out ones
(non-members) by the model's loss on them alone. Members tend to have lower loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from medfed.errors import DataError


@dataclass(frozen=True)
class AttackResult:
    """How well loss separates members from non-members.

    ``auc``: area under the ROC curve of the score −loss (0.5 = chance, 1 = perfect).
    ``advantage``: max over thresholds of TPR − FPR (Yeom's membership advantage, 0..1).
    ``threshold``: the loss at which that maximum is reached; the attacker calls a record a
    member when its loss is <= threshold (−inf when no threshold beats guessing "non-member").
    """

    auc: float
    advantage: float
    threshold: float


def _losses(values: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size == 0:
        raise DataError(f"{what} is empty; the attack needs losses of both members and non-members")
    if not np.all(np.isfinite(array)):
        raise DataError(
            f"{what} contains NaN or infinite losses ({int(np.sum(~np.isfinite(array)))} of {array.size})"
        )
    return array


def loss_threshold_attack(member_losses: np.ndarray, nonmember_losses: np.ndarray) -> AttackResult:
    """Run the loss-threshold attack on per-record losses (any shape, flattened).

    The threshold is the best one in hindsight, chosen knowing who is a member: the
    advantage is an upper bound on what an attacker calibrating on shadow data achieves.
    """
    members = _losses(member_losses, "member_losses")
    others = _losses(nonmember_losses, "nonmember_losses")
    truth = np.concatenate([np.ones(members.size), np.zeros(others.size)])
    score = -np.concatenate([members, others])  # lower loss → more likely a member
    auc = float(roc_auc_score(truth, score))
    fpr, tpr, thresholds = roc_curve(truth, score)
    best = int(np.argmax(tpr - fpr))
    return AttackResult(
        auc=auc, advantage=float(tpr[best] - fpr[best]), threshold=float(-thresholds[best])
    )
