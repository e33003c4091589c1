"""At the end of a run every criterion is judged against the measured results (5.2b, 5.6b),
stored in results.json, printed, and each party receives only what it is granted (5.2e)."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.clause("5.2b")
def test_results_json_holds_a_verdict_per_criterion(goal_run: dict[str, Any]) -> None:
    results = goal_run["results"]
    goals = results["goals"]
    verdicts = {v["criterion"]: v for v in goals["criteria"]}
    assert list(verdicts) == ["auc >= 0.5", "|delta_auc| <= 0.5", "ks >= 0.999", "misdiagnosis_rate <= 1"]
    fed, cen = results["federated"], results["centralized"]
    assert verdicts["auc >= 0.5"]["measured"] == pytest.approx(fed["auc"])
    assert verdicts["auc >= 0.5"]["passed"] is (fed["auc"] >= 0.5)
    assert verdicts["|delta_auc| <= 0.5"]["measured"] == pytest.approx(abs(fed["auc"] - cen["auc"]))
    assert verdicts["ks >= 0.999"]["passed"] is False  # 150 records and 2 rounds cannot separate perfectly
    assert verdicts["misdiagnosis_rate <= 1"]["measured"] == pytest.approx(1 - fed["accuracy"])
    assert goals["passed"] is False
    assert goals["question"] == results["study"]["question"]


@pytest.mark.clause("5.2b")
def test_the_verdicts_are_printed(goal_run: dict[str, Any]) -> None:
    printed = goal_run["printed"]
    assert "ks >= 0.999" in printed and "FAIL" in printed and "PASS" in printed
    assert "NOT all criteria met" in printed


@pytest.mark.clause("5.2c")
@pytest.mark.clause("5.2d")
def test_enforced_goals_are_recorded(goal_run: dict[str, Any]) -> None:
    goals = goal_run["results"]["goals"]
    assert goals["privacy"]["enforced"] is True and goals["privacy"]["require"] == ["consent"]
    assert "consent" in goals["privacy"]["mechanisms"]
    assert goals["data"]["checked"] is True and goals["data"]["dataset_modality"] == "chest x-ray"


@pytest.mark.clause("5.2e")
def test_each_party_receives_only_what_it_is_granted(goal_run: dict[str, Any]) -> None:
    releases = goal_run["out"] / "releases"
    hospital = json.loads((releases / "hospital-a" / "results.json").read_text(encoding="utf-8"))
    assert set(hospital) == {"study", "federated", "centralized", "delta", "goals"}
    assert not (releases / "hospital-a" / "model.safetensors").exists()
    assert not (releases / "hospital-a" / "report.html").exists()
    assert (releases / "result" / "model.safetensors").is_file()
    assert (releases / "result" / "report.html").is_file()
    assert not (releases / "hospital-b").exists()  # granted nothing
    result = json.loads((releases / "result" / "results.json").read_text(encoding="utf-8"))
    assert "rounds" not in result and "privacy" not in result and "dataset" not in result
