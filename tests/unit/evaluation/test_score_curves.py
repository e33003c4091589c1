"""ROC points and KS distributions, checked against hand values and against the metrics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medfed.errors import DataError
from medfed.evaluation import classification_metrics, ks_curve, roc_points

Y = np.array([0, 0, 1, 1])
PROBA = np.column_stack([1 - np.array([0.1, 0.4, 0.35, 0.8]), [0.1, 0.4, 0.35, 0.8]])


def test_roc_points_run_from_origin_to_corner() -> None:
    fpr, tpr = roc_points(Y, PROBA)
    assert (fpr[0], tpr[0]) == (0.0, 0.0)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(0.75)


@pytest.mark.clause("A.1")
def test_ks_curve_hand_values() -> None:
    thresholds, tpr, fpr = ks_curve(Y, PROBA)
    np.testing.assert_allclose(thresholds, [0.1, 0.35, 0.4, 0.8])
    np.testing.assert_allclose(tpr, [1.0, 1.0, 0.5, 0.5])  # positives scoring >= t
    np.testing.assert_allclose(fpr, [1.0, 0.5, 0.5, 0.0])  # negatives scoring >= t
    assert np.max(tpr - fpr) == pytest.approx(0.5)


def test_ks_curve_on_a_given_grid() -> None:
    thresholds, tpr, fpr = ks_curve(Y, PROBA, thresholds=np.array([1.0, 0.0, 0.5]))
    np.testing.assert_allclose(thresholds, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(tpr, [1.0, 0.5, 0.0])
    np.testing.assert_allclose(fpr, [1.0, 0.0, 0.0])


def test_multiclass_curves_are_one_vs_rest_for_the_chosen_class() -> None:
    y = np.array([0, 1, 2, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]])
    fpr, tpr = roc_points(y, proba, positive=2)
    assert np.trapezoid(tpr, fpr) == pytest.approx(1.0)


def test_curve_of_an_absent_class_is_refused() -> None:
    with pytest.raises(DataError, match="only records of that class"):
        roc_points(np.array([1, 1]), PROBA[:2])
    with pytest.raises(DataError, match="outside"):
        ks_curve(Y, PROBA, positive=2)


@st.composite
def _scored(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(2, 40))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    scores = st.floats(0.0, 1.0, allow_nan=False).map(lambda v: round(v, 2))  # force ties
    s = np.array(draw(st.lists(scores, min_size=n, max_size=n)))
    return y, np.column_stack([1 - s, s])


@settings(max_examples=60, deadline=None)
@given(_scored())
def test_ks_from_the_curve_equals_the_metric(case: tuple[np.ndarray, np.ndarray]) -> None:
    y, proba = case
    m = classification_metrics(y, proba)
    if 0 < y.sum() < y.size:
        _, tpr, fpr = ks_curve(y, proba)
        assert m.ks == pytest.approx(float(np.max(tpr - fpr)))
        # Reversing the scores mirrors the AUC.
        flipped = classification_metrics(y, proba[:, ::-1])
        assert flipped.auc == pytest.approx(1.0 - m.auc)
    else:
        assert np.isnan(m.ks) and np.isnan(m.auc)
