"""Known-answer tests for AUC, KS, accuracy and the confusion matrix."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from medfed.errors import DataError
from medfed.evaluation import Metrics, classification_metrics, compare


def _binary(scores: list[float]) -> np.ndarray:
    s = np.asarray(scores, dtype=float)
    return np.column_stack([1 - s, s])


@pytest.mark.clause("A.1")
def test_perfect_classifier_has_auc_one_and_ks_one() -> None:
    m = classification_metrics(np.array([0, 0, 1, 1]), _binary([0.1, 0.2, 0.8, 0.9]))
    assert m.auc == 1.0
    assert m.ks == 1.0
    assert m.accuracy == 1.0


@pytest.mark.clause("A.1")
def test_inverted_classifier_has_auc_zero() -> None:
    m = classification_metrics(np.array([0, 0, 1, 1]), _binary([0.9, 0.8, 0.2, 0.1]))
    assert m.auc == 0.0
    # KS is max(TPR - FPR): a model ranking backwards never separates in the right direction.
    assert m.ks == 0.0
    assert m.accuracy == 0.0


@pytest.mark.clause("A.1")
def test_hand_computed_small_example() -> None:
    # Positive 0.35 beats negative 0.1 but not 0.4; positive 0.8 beats both: AUC = 3/4.
    # At threshold 0.8: TPR 1/2, FPR 0 -> KS 1/2 (also at 0.35: TPR 1, FPR 1/2).
    m = classification_metrics(np.array([0, 0, 1, 1]), _binary([0.1, 0.4, 0.35, 0.8]))
    assert m.auc == pytest.approx(0.75)
    assert m.ks == pytest.approx(0.5)
    assert m.accuracy == pytest.approx(0.75)  # 0.35 is predicted negative
    assert m.confusion == [[2, 0], [1, 1]]
    assert m.n == 4


@pytest.mark.clause("A.1")
def test_multiclass_macro_auc_matches_sklearn_ovr_macro() -> None:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 4, size=300)
    logits = rng.normal(size=(300, 4)) + 1.5 * np.eye(4)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    m = classification_metrics(y, proba)
    assert m.auc == pytest.approx(roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    assert 0.0 < m.ks <= 1.0
    assert len(m.confusion) == 4 and all(len(row) == 4 for row in m.confusion)


@pytest.mark.clause("5.5.2-2")
def test_confusion_matrix_counts_true_rows_and_predicted_columns() -> None:
    y = np.array([0, 1, 2, 2, 1, 0])
    proba = np.eye(3)[[0, 2, 2, 1, 1, 0]] * 0.8 + 0.2 / 3
    m = classification_metrics(y, proba)
    assert m.confusion == [[2, 0, 0], [0, 1, 1], [0, 1, 1]]
    assert m.accuracy == pytest.approx(4 / 6)
    assert all(isinstance(c, int) for row in m.confusion for c in row)


def test_confusion_matrix_includes_classes_never_seen() -> None:
    m = classification_metrics(np.array([0, 0, 1]), np.eye(3)[[0, 0, 1]])
    assert m.confusion == [[2, 0, 0], [0, 1, 0], [0, 0, 0]]


@pytest.mark.clause("A.1")
def test_single_class_split_gives_nan_auc_and_ks_not_an_error() -> None:
    m = classification_metrics(np.array([1, 1, 1]), _binary([0.2, 0.6, 0.9]))
    assert math.isnan(m.auc) and math.isnan(m.ks)
    assert m.accuracy == pytest.approx(2 / 3)


def test_multiclass_average_skips_classes_absent_from_the_test_set() -> None:
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1]])
    m = classification_metrics(y, proba)
    assert m.auc == 1.0 and m.ks == 1.0


def test_labels_may_arrive_as_integer_valued_floats() -> None:
    m = classification_metrics(np.array([0.0, 1.0]), _binary([0.2, 0.7]))
    assert m.auc == 1.0


@pytest.mark.parametrize(
    ("y", "proba", "message"),
    [
        (np.array([0, 1]), _binary([0.1, float("nan")]), "NaN"),
        (np.array([0, 1]), _binary([0.1, float("inf")]), "Inf"),
        (np.array([0, 1, 1]), _binary([0.1, 0.9]), "3 labels but proba has 2 rows"),
        (np.array([[0, 1]]), _binary([0.1, 0.9]), "shape (N,)"),
        (np.array([0, 1]), np.array([0.1, 0.9]), "shape (N, K)"),
        (np.array([0, 2]), _binary([0.1, 0.9]), "[0, 2)"),
        (np.array([-1, 1]), _binary([0.1, 0.9]), "found -1"),
        (np.array([0, 0.5]), _binary([0.1, 0.9]), "integer class labels"),
        (np.array([], dtype=int), np.zeros((0, 2)), "empty"),
        (np.array([0, 0]), np.ones((2, 1)), "at least 2 classes"),
    ],
)
def test_invalid_inputs_raise_data_error_naming_the_problem(
    y: np.ndarray, proba: np.ndarray, message: str
) -> None:
    with pytest.raises(DataError) as info:
        classification_metrics(y, proba)
    assert message in str(info.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(DataError) as info:
        classification_metrics(np.array([0, 5]), _binary([float("nan"), 0.9]))
    assert "NaN" in str(info.value) and "found 5" in str(info.value)


@pytest.mark.clause("5.5.2-2")
@pytest.mark.clause("A.1")
def test_compare_gives_absolute_differences() -> None:
    fed = Metrics(auc=0.91, ks=0.70, accuracy=0.85, confusion=[[1]], n=10)
    cen = Metrics(auc=0.93, ks=0.66, accuracy=0.85, confusion=[[1]], n=10)
    delta = compare(fed, cen)
    assert set(delta) == {"auc", "ks", "accuracy"}
    assert delta["auc"] == pytest.approx(0.02)
    assert delta["ks"] == pytest.approx(0.04)
    assert delta["accuracy"] == 0.0
    assert compare(cen, fed) == delta


@pytest.mark.clause("5.5.2-2")
def test_model_compared_with_itself_is_at_distance_zero() -> None:
    m = classification_metrics(np.array([0, 0, 1, 1]), _binary([0.1, 0.4, 0.35, 0.8]))
    assert compare(m, m) == {"auc": 0.0, "ks": 0.0, "accuracy": 0.0}


def test_as_dict_is_a_plain_copy() -> None:
    m = classification_metrics(np.array([0, 1]), _binary([0.2, 0.7]))
    d = m.as_dict()
    assert d == {"auc": 1.0, "ks": 1.0, "accuracy": 1.0, "confusion": [[1, 0], [0, 1]], "n": 2}
    d["confusion"][0][0] = 99
    assert m.confusion[0][0] == 1
