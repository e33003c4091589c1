"""Report sections drawn from test-set predictions: ROC curves and KS distributions.

Predictions themselves never reach the page: ROC curves are drawn as paths, and KS
distributions are evaluated on a fixed grid of thresholds (plus the one where the gap is
largest) so the figure shows shares of records, not the scores of individual records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from medfed.errors import DataError
from medfed.evaluation import _plots
from medfed.evaluation._format import is_real
from medfed.evaluation._html import figure, note, section
from medfed.evaluation.metrics import Metrics, classification_metrics, ks_curve, roc_points

_GRID_POINTS = 401  # KS grid resolution; enough for a smooth curve at any N


class _Scored(NamedTuple):
    label: str
    y: np.ndarray  # (N,)
    proba: np.ndarray  # (N, K)
    metrics: Metrics


def curve_sections(curves: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """ROC and KS sections for every model in ``curves`` (label -> (y_true, proba))."""
    if not curves:
        missing = note("No test-set predictions were supplied, so no curves are drawn.")
        return section("roc", "ROC curves", missing)
    scored = [
        _Scored(label, np.asarray(y), np.asarray(p), classification_metrics(y, p))
        for label, (y, p) in curves.items()
    ]
    widths = {s.proba.shape[1] for s in scored}
    if len(widths) != 1:
        raise DataError(f"models were scored with different numbers of classes: {sorted(widths)}")
    binary = widths == {2}
    return _roc_section(scored, binary) + _ks_section(scored, binary)


def _roc_section(scored: list[_Scored], binary: bool) -> str:
    lines, notes = [], []
    for s in scored:
        if not is_real(s.metrics.auc):
            notes.append(note(f"{s.label}: ROC undefined, the test set holds a single class."))
            continue
        fpr, tpr = roc_points(s.y, s.proba) if binary else _macro_roc(s.y, s.proba)
        kind = "AUC" if binary else "macro AUC"
        lines.append((s.label, fpr, tpr, f"({kind} = {s.metrics.auc:.3f})"))
    n = scored[0].metrics.n
    caption = (
        f"ROC on the common test set (N = {n:,})."
        if binary
        else f"Macro average of the one-vs-rest ROC curves on the common test set (N = {n:,})."
    )
    body = figure(_plots.roc_svg(lines), caption) if lines else ""
    return section("roc", "ROC curves", body + "".join(notes))


def _macro_roc(y: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the one-vs-rest TPRs of the classes present, on a common FPR grid (M,)."""
    grid = np.linspace(0.0, 1.0, 201)
    tprs = []
    for k in range(proba.shape[1]):
        n_pos = int(np.sum(y == k))
        if 0 < n_pos < y.size:
            fpr, tpr = roc_points(y, proba, positive=k)
            tprs.append(np.interp(grid, fpr, tpr))
    # The curve starts at the origin; interp at FPR 0 would take the top of the first step.
    return np.concatenate([[0.0], grid]), np.concatenate([[0.0], np.mean(tprs, axis=0)])


def _ks_section(scored: list[_Scored], binary: bool) -> str:
    title = "KS: score distributions of positives and negatives"
    if not binary:
        per_class = [(s.label, _per_class_ks(s.y, s.proba)) for s in scored]
        caption = "KS of each class against the rest; the table's KS is their macro mean."
        return section("ks", title, figure(_plots.ks_bars_svg(per_class), caption))
    parts = []
    for i, s in enumerate(scored):
        if not is_real(s.metrics.ks):
            parts.append(note(f"{s.label}: KS undefined, the test set holds a single class."))
            continue
        parts.append(figure(_ks_plot(s, i), f"{s.label}: KS = {s.metrics.ks:.3f}"))
    return section("ks", title, f'<div class="grid">{"".join(parts)}</div>')


def _ks_plot(s: _Scored, index: int) -> str:
    thresholds, tpr, fpr = ks_curve(s.y, s.proba)
    best = float(thresholds[int(np.argmax(tpr - fpr))])
    scores = s.proba[:, 1]
    low, high = float(scores.min()), float(scores.max())
    if low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0  # probabilities: the same axis for every model
    grid = np.union1d(np.linspace(low, high, _GRID_POINTS), [best])
    grid, tpr, fpr = ks_curve(s.y, s.proba, thresholds=grid)
    return _plots.ks_svg(s.label, index, grid, tpr, fpr, best)


def _per_class_ks(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    values = np.full(proba.shape[1], np.nan)
    for k in range(proba.shape[1]):
        n_pos = int(np.sum(y == k))
        if 0 < n_pos < y.size:
            _, tpr, fpr = ks_curve(y, proba, positive=k)
            values[k] = float(np.max(tpr - fpr))
    return values
