"""The report walks the six stages (5.6c), judges every criterion (5.6b) and holds no
identifiers or per-record data (5.6a)."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest

from medfed.evaluation.report import render_report

pytestmark = pytest.mark.slow

STAGES = ["Goal setting", "Data preparation", "Joint modeling", "Evaluation", "Result presentation", "Deployment"]


@pytest.mark.clause("5.6c")
def test_report_walks_the_six_stages_in_order(goal_run: dict[str, Any]) -> None:
    html = goal_run["html"]
    positions = [html.index(f"Stage {i + 1} · {title}") for i, title in enumerate(STAGES)]
    assert positions == sorted(positions)
    for anchor in ("goals", "data", "modeling", "evaluation", "presentation", "deployment"):
        assert f'id="stage-{anchor}"' in html
    # The detailed sections sit inside their stage: the comparison after modeling, before presentation.
    assert positions[3] < html.index('id="comparison"') < positions[4]
    assert positions[0] < html.index("AI-assisted diagnosis of paediatric pneumonia") < positions[1]


@pytest.mark.clause("5.6b")
@pytest.mark.clause("5.2a")
def test_report_states_pass_or_fail_for_every_criterion(goal_run: dict[str, Any]) -> None:
    html = goal_run["html"]
    for verdict in goal_run["results"]["goals"]["criteria"]:
        text = verdict["criterion"].replace(">", "&gt;").replace("<", "&lt;")
        row = re.search(rf"<tr><td>{re.escape(text)}</td><td>[^<]*</td><td class=\"(pass|fail)\">(PASS|FAIL)</td>", html)
        assert row is not None, verdict["criterion"]
        assert row.group(2) == ("PASS" if verdict["passed"] else "FAIL")
    assert "Can two hospitals detect pneumonia on chest X-rays together?" in html
    assert "hospital-a" in html and "test metrics and the goal verdicts" in html  # the sharing agreement


@pytest.mark.clause("5.6a")
def test_report_holds_no_identifiers_or_per_record_rows(goal_run: dict[str, Any]) -> None:
    html = goal_run["html"]
    lowered = html.lower()
    for marker in ("patientid", "patient_id", "patientname", "birthdate", "accession", "studyinstanceuid",
                   "sopinstanceuid", ".npz", ".dcm", "data.npz", str(goal_run["out"]).lower(), "medmnist_dir"):
        assert marker not in lowered, marker
    assert not re.search(r"\b\d{3}-\d{2}-\d{4}\b", html)  # SSN-like numbers
    results = goal_run["results"]
    n_test = results["dataset"]["test_samples"]
    rows_per_table = [t.count("<tr>") for t in re.findall(r"<table>.*?</table>", html, flags=re.S)]
    assert max(rows_per_table) < 30 < n_test  # aggregates only: no table lists records


@pytest.mark.clause("5.6a")
def test_the_report_never_prints_a_record_even_when_records_are_given(goal_run: dict[str, Any]) -> None:
    """Curves are drawn from per-record predictions; none of those values reach the page."""
    y = np.array([0, 1] * 20)
    proba = np.linspace(0.013579, 0.987531, 40)
    page = render_report(goal_run["results"], {"federated": (y, np.stack([1 - proba, proba], axis=1))})
    for value in proba[::7]:
        assert f"{value:.6f}" not in page


@pytest.mark.clause("5.6a")
@pytest.mark.clause("5.2d")
def test_small_counts_are_suppressed_in_the_data_split(goal_run: dict[str, Any]) -> None:
    results = json.loads(json.dumps(goal_run["results"]))
    results["dataset"]["hospitals"] = {
        "hospital-a": {"0": 3, "1": 57, "total": 60}, "hospital-b": {"0": 40, "1": 45, "total": 85},
    }
    page = render_report(results, {})
    assert "<td>hospital-a</td><td>&lt;10</td><td>suppressed</td><td>60</td>" in page
    assert "<td>hospital-b</td><td>40</td><td>45</td><td>85</td>" in page
    assert "<td>43</td>" not in page and "<td>102</td>" not in page  # column totals would give them back
    assert "<td>145</td>" in page  # the grand total stays
