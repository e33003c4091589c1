"""Membership-inference attacks, to measure what DP protects (clause 5.4.3.3-3).

Clause 5.4.3.3-3 asks that DP resist membership inference: train with and without DP,
then see how well an attacker tells the training records (members) from held-out ones
(non-members). Two attacks, both pure functions of model outputs:

- loss threshold (Yeom et al. 2018): members tend to have lower loss;
- shadow models (Shokri et al. 2017): the attacker trains look-alike models on data it
  owns, labels their outputs on its own records as in/out, and fits a classifier that
  maps a model's output on a record to "member or not"; that classifier is then applied
  to the target model's outputs. Training the shadows happens elsewhere; here are the
  output features and the attack classifier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from medfed.errors import DataError


@dataclass(frozen=True)
class AttackResult:
    """How well an attack separates members from non-members.

    ``auc``: area under the ROC curve of the attack's membership score (0.5 = chance,
    1 = perfect). ``advantage``: TPR − FPR of the attack's decision (Yeom's membership
    advantage, 0..1; negative only if the decision is worse than chance).
    ``threshold``: where the decision is taken. Loss threshold: a loss, the attacker calls
    a record a member when its loss is <= threshold (−inf when no threshold beats guessing
    "non-member"). Shadow models: the attack classifier's membership probability, a
    member when it is >= threshold.
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


# Probabilities are floored here before logs: float32 softmax underflows to exactly 0.
_TINY = 1e-30
# Top sorted probabilities kept as features; beyond a few they add noise, not signal.
_TOP_K = 3


def _logit_scaled(chosen: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """log p − log(1 − p), given p and the sum of the other classes' probabilities."""
    return np.log(np.maximum(chosen, _TINY)) - np.log(np.maximum(rest, _TINY))


def output_features(proba: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Attack features of each record from a model's softmax output on it.

    proba: (N, C) class probabilities; labels: (N,) true classes in 0..C−1.
    Returns float64 (N, 1 + min(C − 1, 3)): the logit-scaled true-class probability
    log p_y − log(1 − p_y) (carries the loss, −log p_y, with resolution near p_y = 1,
    where members sit), then the logit-scaled largest min(C − 1, 3) sorted
    probabilities (the label-free confidence profile of Shokri et al.; the last of the C
    sorted values is implied by the others).
    """
    p = np.asarray(proba, dtype=np.float64)
    y = np.asarray(labels).ravel()
    if p.ndim != 2 or p.shape[1] < 2 or p.shape[0] != y.size:
        raise DataError(f"proba must be (N, C>=2) and labels (N,); got {p.shape} and {y.shape}")
    if p.shape[0] == 0 or not np.all(np.isfinite(p)):
        raise DataError("proba is empty or contains NaN or infinite values")
    if not np.all((y >= 0) & (y < p.shape[1])):
        raise DataError(f"labels must lie in 0..{p.shape[1] - 1}")
    y = y.astype(np.int64)
    others = np.ones(p.shape, dtype=bool)
    others[np.arange(y.size), y] = False
    # 1 − p is summed from the other entries, not subtracted: exact where p rounds to 1.
    columns = [_logit_scaled(p[np.arange(y.size), y], np.where(others, p, 0.0).sum(axis=1))]
    ranked = -np.sort(-p, axis=1)
    for k in range(min(p.shape[1] - 1, _TOP_K)):
        rest = ranked[:, :k].sum(axis=1) + ranked[:, k + 1 :].sum(axis=1)
        columns.append(_logit_scaled(ranked[:, k], rest))
    return np.stack(columns, axis=1)


def _features(values: np.ndarray, what: str, width: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] == 0:
        raise DataError(f"{what} must be a non-empty (N, F) matrix, got shape {array.shape}")
    if width is not None and array.shape[1] != width:
        raise DataError(f"{what} has {array.shape[1]} features; the shadow features have {width}")
    if not np.all(np.isfinite(array)):
        raise DataError(f"{what} contains NaN or infinite features")
    return array


def shadow_attack(
    shadow_features: np.ndarray,
    shadow_members: np.ndarray,
    member_features: np.ndarray,
    nonmember_features: np.ndarray,
) -> AttackResult:
    """Fit the attack classifier on shadow outputs, then attack the target's outputs.

    shadow_features: (M, F) features of the shadow models' outputs on attacker-owned
    records; shadow_members: (M,) bool, whether each record was in the training set of
    the shadow that produced the row. member_features / nonmember_features: (N1, F) and
    (N0, F), the target model's outputs on its members and on non-members.

    One global attack classifier, a standardised logistic regression, rather than one
    per class: shadow pools are a few hundred records, and the true-class feature already
    conditions on the label. ``advantage`` is TPR − FPR of the classifier's own decision
    (membership probability >= 0.5), a rule the attacker learns from the shadows alone, not
    the best threshold in hindsight.
    """
    train = _features(shadow_features, "shadow_features")
    truth = np.asarray(shadow_members).ravel()
    if truth.size != train.shape[0]:
        raise DataError(f"shadow_members has {truth.size} labels for {train.shape[0]} feature rows")
    truth = truth.astype(bool)
    if truth.all() or not truth.any():
        raise DataError("shadow_members needs both in and out records to train the attack classifier")
    members = _features(member_features, "member_features", train.shape[1])
    others = _features(nonmember_features, "nonmember_features", train.shape[1])
    classifier = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced"))
    classifier.fit(train, truth)
    score_in = classifier.predict_proba(members)[:, 1]
    score_out = classifier.predict_proba(others)[:, 1]
    target = np.concatenate([np.ones(score_in.size), np.zeros(score_out.size)])
    auc = float(roc_auc_score(target, np.concatenate([score_in, score_out])))
    decision = 0.5
    advantage = float(np.mean(score_in >= decision) - np.mean(score_out >= decision))
    return AttackResult(auc=auc, advantage=advantage, threshold=decision)
