"""The HTML report: content, self-containment, escaping and de-identification."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from medfed.errors import DataError
from medfed.evaluation import render_report, write_report

MALICIOUS = '<script>alert("x")</script> & friends'


def test_report_shows_the_comparison_numbers(sample_page: str) -> None:
    page = sample_page
    for figure in ("0.9312", "0.9468", "0.0156", "0.7421", "0.7702", "0.0281", "0.8813", "0.0092"):
        assert figure in page
    assert "pneumonia-2024" in page and "pneumoniamnist" in page
    assert "α = 0.5" in page


def test_report_judges_each_distance_against_the_bars(results: dict[str, Any]) -> None:
    results["delta"]["ks"] = 0.06
    page = render_report(results, {})
    assert '<td class="pass">|Δ| &lt; 0.02: pass</td>' in page  # AUC target
    assert '<td class="fail">|Δ| &lt; 0.05: fail</td>' in page  # KS target
    assert '<td class="fail">fail</td>' in page  # KS above the standard's 0.05


def test_distance_equal_to_the_standard_bar_fails(results: dict[str, Any]) -> None:
    results["delta"] = {"auc": 0.01, "ks": 0.05, "accuracy": 0.30}
    page = render_report(results, {})
    # AUC passes; KS at exactly 0.05 fails; accuracy is not judged by Appendix A.1.
    assert page.count('<td class="pass">pass</td>') == 1
    assert page.count('<td class="fail">fail</td>') == 1


def test_report_has_the_plots_inline(sample_page: str) -> None:
    page = sample_page
    # ROC, KS per model (2), per-round metrics, traffic.
    assert page.count("<svg") >= 5
    assert "AUC = " in page  # ROC legend


def test_report_is_self_contained(sample_page: str) -> None:
    page = sample_page
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert not re.search(r"""\b(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "<?xml" not in page  # SVG prologues would be invalid inside HTML


def test_report_lists_parties_split_and_traffic(results: dict[str, Any]) -> None:
    page = render_report(results, {})
    assert "<td>coordinator</td><td>dispatcher</td>" in page
    assert "<td>hospital-b</td><td>777</td><td>41</td><td>818</td>" in page
    assert "<td>1,130</td>" in page  # all hospitals together
    assert "15.00 MB" in page  # server total sent, human-readable
    assert "2.50 MB" in page  # server sent in round 1
    assert "MB/s" in page
    assert "adam" in page  # training configuration


def test_study_question_is_escaped(
    results_with_question: Callable[[str], dict[str, Any]], binary_curves: Any
) -> None:
    page = render_report(results_with_question(MALICIOUS), binary_curves)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; friends" in page


def test_names_reaching_the_plots_are_escaped_too(
    results: dict[str, Any], binary_curves: Any
) -> None:
    for entry in results["rounds"]:
        entry["clients"]["<b>$evil$</b>"] = {"bytes_sent": 10, "bytes_received": 20}
    curves = {"<i>model</i>": binary_curves["federated"]}
    page = render_report(results, curves)
    assert "<b>" not in page and "<i>" not in page
    assert "&lt;b&gt;" in page


@pytest.mark.clause("5.6a")
def test_report_holds_no_individual_predictions(results: dict[str, Any]) -> None:
    rng = np.random.default_rng(3)
    n = 120
    y = np.tile([0, 1], n // 2)
    p1 = rng.uniform(0.0, 1.0, size=n)
    p1[0], p1[1] = 0.123456789, 0.987654321  # distinctive digits to look for
    proba = np.column_stack([1 - p1, p1])
    page = render_report(results, {"federated": (y, proba), "centralized": (y, proba[:, ::-1])})
    for digits in ("123456789", "987654321", "0.12345", "0.98765", "0.876543211"):
        assert digits not in page
    for value in p1:
        assert repr(float(value)) not in page
        assert repr(float(1 - value)) not in page


def test_multiclass_report_uses_macro_curves(results: dict[str, Any]) -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=90)
    proba = rng.dirichlet(np.ones(3), size=90) * 0.5 + np.eye(3)[y] * 0.5
    page = render_report(results, {"federated": (y, proba), "centralized": (y, proba)})
    assert "macro AUC = " in page
    assert page.count("<svg") >= 4


def test_single_class_test_set_is_noted_not_fatal(results: dict[str, Any]) -> None:
    y = np.ones(10, dtype=int)
    proba = np.column_stack([np.full(10, 0.3), np.full(10, 0.7)])
    page = render_report(results, {"federated": (y, proba)})
    assert "ROC undefined" in page and "KS undefined" in page


def test_malformed_predictions_are_a_data_error(results: dict[str, Any]) -> None:
    with pytest.raises(DataError):
        render_report(
            results, {"federated": (np.array([0, 1]), np.array([[0.5, float("nan")]] * 2))}
        )


def test_missing_optional_sections_degrade_to_notes() -> None:
    page = render_report({}, {})
    assert page.startswith("<!DOCTYPE html>")
    assert "No rounds were recorded." in page
    assert "No per-hospital split recorded." in page
    assert "No test-set predictions were supplied" in page


def test_write_report_creates_the_file(
    tmp_path: Path, results: dict[str, Any], binary_curves: Any
) -> None:
    path = write_report(tmp_path / "out" / "report.html", results, binary_curves)
    assert path == tmp_path / "out" / "report.html"
    assert path.read_text(encoding="utf-8") == render_report(results, binary_curves)
