"""Classification metrics for comparing the federated model with the central one.

Clause 5.5.2-2 measures a federated model by its distance to the centrally trained model;
Appendix A.1 names AUC and KS as the measures. Every function here takes the same inputs:

- ``y_true``: shape ``(N,)``, integer class labels in ``[0, K)``;
- ``proba``: shape ``(N, K)``, per-class scores (softmax probabilities in practice; AUC and
  KS only depend on their order, so any monotone score works).

AUC and KS are undefined when the test set holds a single class. They are then ``nan``
rather than an exception, so that one small split cannot abort a whole study's evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

from medfed.errors import DataError

_NAN = float("nan")


@dataclass(frozen=True)
class Metrics:
    """Scores of one model on one test set.

    ``auc`` and ``ks`` are in [0, 1], or ``nan`` when undefined (one class present);
    ``accuracy`` is the share of argmax predictions equal to the label;
    ``confusion[i][j]`` counts records of true class ``i`` predicted as ``j`` (K x K);
    ``n`` is the number of records scored.
    """

    auc: float
    ks: float
    accuracy: float
    confusion: list[list[int]]
    n: int

    def as_dict(self) -> dict[str, Any]:
        """Plain-Python copy (``nan`` stays ``nan``: callers writing strict JSON map it)."""
        return {
            "auc": self.auc,
            "ks": self.ks,
            "accuracy": self.accuracy,
            "confusion": [list(row) for row in self.confusion],
            "n": self.n,
        }


def classification_metrics(y_true: np.ndarray, proba: np.ndarray) -> Metrics:
    """AUC, KS, accuracy and confusion matrix of ``proba`` (N, K) against ``y_true`` (N,).

    K = 2: AUC of the class-1 score and KS = max(TPR - FPR) over its ROC curve.
    K > 2: one-vs-rest for each class, macro-averaged (equal weight per class), which equals
    sklearn's ``roc_auc_score(multi_class="ovr", average="macro")`` when every class is
    present. Classes absent from ``y_true`` have no one-vs-rest curve and are left out of
    the average; with fewer than two classes present AUC and KS are ``nan``.

    Raises ``DataError`` for mismatched shapes, NaN/Inf scores or labels outside [0, K).
    """
    y, p = _validate(y_true, proba)
    k = p.shape[1]
    if k == 2:
        auc, ks = _binary_auc_ks(y == 1, p[:, 1])
    else:
        aucs, kss = _one_vs_rest(y, p)
        defined = ~np.isnan(aucs)
        # Two present classes is the least for which "one vs rest" separates anything.
        if defined.sum() >= 2:
            auc, ks = float(aucs[defined].mean()), float(kss[defined].mean())
        else:
            auc, ks = _NAN, _NAN
    predicted = p.argmax(axis=1)
    confusion = confusion_matrix(y, predicted, labels=np.arange(k))
    return Metrics(
        auc=auc,
        ks=ks,
        accuracy=float(np.mean(predicted == y)),
        confusion=[[int(c) for c in row] for row in confusion],
        n=int(y.shape[0]),
    )


def roc_points(
    y_true: np.ndarray, proba: np.ndarray, *, positive: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """ROC curve ``(fpr, tpr)``, both shape (M,), of class ``positive`` against the rest.

    For a binary task the default ``positive=1`` is the usual ROC curve. Only the corners
    of the curve are kept (sklearn's ``drop_intermediate``); the area is unchanged.
    Raises ``DataError`` when ``positive`` or its complement is absent from ``y_true``.
    """
    y, p = _validate(y_true, proba)
    is_pos = _positive_mask(y, p, positive)
    fpr, tpr, _ = roc_curve(is_pos, p[:, positive], drop_intermediate=True)
    return fpr, tpr


def ks_curve(
    y_true: np.ndarray,
    proba: np.ndarray,
    *,
    positive: int = 1,
    thresholds: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score distributions of positives and negatives, for the KS plot.

    Returns ``(thresholds, tpr, fpr)``, each shape (M,): thresholds ascending,
    ``tpr[i]`` = share of positives scoring >= ``thresholds[i]`` and ``fpr[i]`` the same
    for negatives, so ``1 - tpr`` and ``1 - fpr`` are the two cumulative distributions and
    ``max(tpr - fpr)`` is the KS statistic. By default the thresholds are the distinct
    scores (exact curve); pass a grid to evaluate on it instead, e.g. to keep a plot's size
    independent of N. Raises ``DataError`` when a class is absent, as for ``roc_points``.
    """
    y, p = _validate(y_true, proba)
    is_pos = _positive_mask(y, p, positive)
    scores = p[:, positive]
    if thresholds is None:
        grid = np.unique(scores)
    else:
        grid = np.sort(np.asarray(thresholds, dtype=np.float64).ravel())
    return grid, _share_at_or_above(scores[is_pos], grid), _share_at_or_above(scores[~is_pos], grid)


def compare(federated: Metrics, centralized: Metrics) -> dict[str, float]:
    """Absolute differences ``{"auc", "ks", "accuracy"}`` (clause 5.5.2-2); ``nan`` propagates."""
    return {
        "auc": abs(federated.auc - centralized.auc),
        "ks": abs(federated.ks - centralized.ks),
        "accuracy": abs(federated.accuracy - centralized.accuracy),
    }


def _one_vs_rest(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class AUC and KS, each shape (K,), of class k vs the rest; ``nan`` where undefined.

    Expects inputs already validated.
    """
    pairs = [_binary_auc_ks(y == k, p[:, k]) for k in range(p.shape[1])]
    return np.array([a for a, _ in pairs]), np.array([s for _, s in pairs])


def _binary_auc_ks(is_pos: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    n_pos = int(is_pos.sum())
    if n_pos == 0 or n_pos == is_pos.size:
        return _NAN, _NAN
    auc = float(roc_auc_score(is_pos, scores))
    # Every threshold is kept so the maximum is taken over the whole curve.
    fpr, tpr, _ = roc_curve(is_pos, scores, drop_intermediate=False)
    return auc, float(np.max(tpr - fpr))


def _share_at_or_above(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    ordered = np.sort(scores)
    below = np.searchsorted(ordered, thresholds, side="left")
    return 1.0 - below / ordered.size


def _positive_mask(y: np.ndarray, p: np.ndarray, positive: int) -> np.ndarray:
    k = p.shape[1]
    if not 0 <= positive < k:
        raise DataError(f"positive class {positive} is outside [0, {k}) for proba with K={k}")
    is_pos = y == positive
    n_pos = int(is_pos.sum())
    if n_pos == 0 or n_pos == y.size:
        present = "no" if n_pos == 0 else "only"
        raise DataError(
            f"curve for class {positive} is undefined: the test set holds {present} records of "
            "that class; a curve needs both positives and negatives"
        )
    return is_pos


def _validate(y_true: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(y, p)`` as int64 (N,) and float64 (N, K), or raise one ``DataError``
    listing every problem found."""
    y = np.asarray(y_true)
    p = np.asarray(proba)
    problems: list[str] = []
    if y.ndim != 1:
        problems.append(f"y_true must have shape (N,), got {y.shape}")
    if p.ndim != 2:
        problems.append(f"proba must have shape (N, K), got {p.shape}")
    if problems:
        raise DataError("; ".join(problems))
    n, k = p.shape
    if y.shape[0] != n:
        problems.append(f"y_true has {y.shape[0]} labels but proba has {n} rows")
    if n == 0:
        problems.append("the test set is empty (N=0)")
    if k < 2:
        problems.append(f"proba needs one column per class and at least 2 classes, got K={k}")
    if not (np.issubdtype(p.dtype, np.floating) or np.issubdtype(p.dtype, np.integer)):
        problems.append(f"proba must be numeric, got dtype {p.dtype}")
        raise DataError("; ".join(problems))
    p = p.astype(np.float64, copy=False)
    for name, bad in (("NaN", np.isnan(p)), ("Inf", np.isinf(p))):
        rows = np.flatnonzero(bad.any(axis=1))
        if rows.size:
            problems.append(f"proba holds {name} in {rows.size} of {n} rows (first: row {rows[0]})")
    labels = _integer_labels(y, problems)
    if labels is not None and k >= 2:
        outside = np.unique(labels[(labels < 0) | (labels >= k)])
        if outside.size:
            shown = ", ".join(str(v) for v in outside[:10].tolist())
            problems.append(f"labels must lie in [0, {k}) for K={k} classes; found {shown}")
    if problems:
        raise DataError("; ".join(problems))
    assert labels is not None  # a problem would have been recorded otherwise
    return labels, p


def _integer_labels(y: np.ndarray, problems: list[str]) -> np.ndarray | None:
    """Labels as int64, accepting bools and integer-valued floats (e.g. from a CSV)."""
    if y.dtype == np.bool_ or np.issubdtype(y.dtype, np.integer):
        return y.astype(np.int64)
    if np.issubdtype(y.dtype, np.floating):
        finite = np.isfinite(y)
        if not finite.all() or not np.all(y[finite] == np.round(y[finite])):
            problems.append("y_true must hold integer class labels; found NaN, Inf or fractions")
            return None
        return y.astype(np.int64)
    problems.append(f"y_true must hold integer class labels, got dtype {y.dtype}")
    return None
