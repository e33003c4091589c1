from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from medfed.evaluation.ranking import binary_auc, macro_auc


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 5)), min_size=2, max_size=60))
def test_rank_auc_equals_sklearn_including_ties(pairs: list[tuple[int, int]]) -> None:
    y = np.array([p[0] for p in pairs])
    score = np.array([p[1] / 5 for p in pairs])  # few distinct values: many ties
    if len(set(y)) < 2:
        assert math.isnan(binary_auc(y, score))
    else:
        assert binary_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


@pytest.mark.clause("A.1")
def test_macro_auc_matches_sklearn_ovr_macro() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 200)
    proba = rng.dirichlet(np.ones(4), 200)
    proba[np.arange(200), y] += 0.3
    proba /= proba.sum(1, keepdims=True)
    assert macro_auc(y, proba) == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"), abs=1e-12)
    assert macro_auc(y % 2, np.stack([1 - proba[:, 1], proba[:, 1]], 1)) == pytest.approx(
        roc_auc_score(y % 2, proba[:, 1])
    )


def test_node_side_import_does_not_load_scikit_learn() -> None:
    import subprocess
    import sys

    code = "import sys, medfed.node.worker; print('sklearn' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
