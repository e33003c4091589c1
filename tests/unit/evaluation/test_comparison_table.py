"""The comparison rows shared by the terminal table and the HTML report."""

from __future__ import annotations

from typing import Any

import pytest

from medfed.evaluation import comparison_rows


@pytest.mark.clause("5.5.2-2")
@pytest.mark.clause("A.1")
def test_rows_hold_both_models_and_the_distance(results: dict[str, Any]) -> None:
    rows = comparison_rows(results)
    assert rows[:3] == [
        ("AUC", "0.9312", "0.9468", "0.0156"),
        ("KS", "0.7421", "0.7702", "0.0281"),
        ("Accuracy", "0.8813", "0.8905", "0.0092"),
    ]
    assert rows[3] == ("Training time", "41.50 s", "12.25 s", "—")


def test_distance_is_computed_when_not_recorded(results: dict[str, Any]) -> None:
    del results["delta"]
    assert comparison_rows(results)[0][3] == "0.0156"


def test_missing_and_undefined_figures_do_not_break_the_table() -> None:
    rows = comparison_rows({"federated": {"auc": float("nan")}, "centralized": None})
    assert rows[0] == ("AUC", "n/a", "—", "—")
    assert rows[3] == ("Training time", "—", "—", "—")
