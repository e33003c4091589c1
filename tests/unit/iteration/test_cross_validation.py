"""Federated k-fold cross-validation (5.7.3.5): each hospital folds its own data; curves per fold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from medfed.core.config import StudyConfig
from medfed.errors import ConfigError
from medfed.orchestration.model_iteration import (
    _fold_datasets,
    cross_validate,
    diagnose,
    run_cv_fold,
)
from medfed.orchestration.runs import subsample
from medfed.orchestration.scenario import prepare_scenario

from .conftest import MAX_TRAIN

pytestmark = pytest.mark.clause("5.7.3.5")


@pytest.fixture(scope="session")
def cv_run(tiny_study: StudyConfig, medmnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("cv")
    document = cross_validate(tiny_study, 2, out_dir=out, data_dir=medmnist_dir, max_train=MAX_TRAIN)
    return {"out": out, "document": document}


def test_folds_split_each_hospitals_own_data_disjointly(tiny_study: StudyConfig, medmnist_dir: Path) -> None:
    scenario = subsample(prepare_scenario(tiny_study, data_dir=medmnist_dir), MAX_TRAIN, 0)
    folds = [_fold_datasets(scenario, i, 3, seed=7) for i in range(3)]
    for name, ds in scenario.datasets.items():
        total = len(ds.train.labels) + len(ds.val.labels)
        sizes = [len(f[name].val.labels) for f in folds]
        assert sum(sizes) == total and max(sizes) - min(sizes) <= 1
        for f in folds:
            assert len(f[name].train.labels) + len(f[name].val.labels) == total
        # Validation images of different folds never coincide (the folds partition the data).
        keys = [{im.tobytes() for im in f[name].val.images} for f in folds]
        assert not (keys[0] & keys[1]) and not (keys[1] & keys[2])
    again = _fold_datasets(scenario, 1, 3, seed=7)
    assert np.array_equal(again["hospital-a"].val.images, folds[1]["hospital-a"].val.images)  # seeded


def test_fold_arguments_are_checked(tiny_study: StudyConfig, medmnist_dir: Path) -> None:
    scenario = subsample(prepare_scenario(tiny_study, data_dir=medmnist_dir), MAX_TRAIN, 0)
    with pytest.raises(ConfigError, match="k >= 2"):
        _fold_datasets(scenario, 2, 2, seed=0)
    with pytest.raises(ConfigError, match="k >= 2"):
        _fold_datasets(scenario, 0, 1, seed=0)


@pytest.mark.slow
def test_two_fold_cross_validation_yields_curves_per_fold(cv_run: dict[str, Any]) -> None:
    document, out = cv_run["document"], cv_run["out"]
    assert [r["fold"] for r in document["runs"]] == [0, 1]
    for run in document["runs"]:
        assert [r["round"] for r in run["rounds"]] == [1, 2]
        for entry in run["rounds"]:
            assert np.isfinite([entry["train_loss"], entry["val_loss"], entry["val_auc"]]).all()
        assert 0 <= run["final"]["val_auc"] <= 1 and 0 <= run["final"]["train_auc"] <= 1
        assert run["diagnosis"]["fit"] in {"good fit", "over-fitting", "under-fitting"}
        assert run["seconds"] > 0 and run["bytes"] > 0  # the cost of each fold is recorded
        assert (out / f"fold-{run['fold']}.json").is_file()
    aucs = [r["final"]["val_auc"] for r in document["runs"]]
    assert document["summary"]["mean_val_auc"] == pytest.approx(np.mean(aucs))
    saved = json.loads((out / "iteration.json").read_text(encoding="utf-8"))
    assert saved["kind"] == "cv" and len(saved["runs"]) == 2
    html = (out / "iteration.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 2 and "validation loss" in html and "fold 2/2" in html
    assert "Federated cross-validation" in html


@pytest.mark.slow
def test_a_single_fold_is_a_public_entry_point(
    tiny_study: StudyConfig, medmnist_dir: Path, tmp_path: Path
) -> None:
    result = run_cv_fold(tiny_study, {"fold": 1, "k": 2, "rounds": 1, "data_dir": str(medmnist_dir),
                                      "max_train": 60}, tmp_path)
    assert result["fold"] == 1 and len(result["rounds"]) == 1  # the fold's own rounds override
    assert json.loads((tmp_path / "fold-1.json").read_text(encoding="utf-8"))["k"] == 2


def test_diagnosis_names_over_and_under_fitting() -> None:
    flat = [{"val_loss": 0.5}] * 3
    assert diagnose({"train_auc": 0.99, "val_auc": 0.70}, flat)["fit"] == "over-fitting"
    assert diagnose({"train_auc": 0.55, "val_auc": 0.52}, flat)["fit"] == "under-fitting"
    rising = [{"val_loss": v} for v in (0.5, 0.4, 0.6)]
    assert diagnose({"train_auc": 0.9, "val_auc": 0.88}, rising)["fit"] == "over-fitting"
    assert diagnose({"train_auc": 0.9, "val_auc": 0.88}, flat)["fit"] == "good fit"


@pytest.mark.clause("5.2c", "5.4.3.3-4")
def test_folds_compose_their_epsilon_and_a_total_over_the_cap_is_refused_before_training(
    tiny_study: StudyConfig, medmnist_dir: Path, tmp_path: Path
) -> None:
    from dataclasses import replace

    from medfed.core.config import Mechanism, PrivacyConfig
    from medfed.core.goals import GoalRefusedError, PrivacyGoals
    from medfed.orchestration.model_iteration import cross_validate, iteration_epsilon
    from medfed.orchestration.runs import planned_epsilon

    private = replace(tiny_study, privacy=PrivacyConfig(mechanism=Mechanism.DP_FEDAVG, noise_multiplier=1.0))
    scenario = subsample(prepare_scenario(private, data_dir=medmnist_dir), MAX_TRAIN, 1)
    one_run = max(planned_epsilon(private, dict(scenario.datasets)).values())
    five_runs = iteration_epsilon([private] * 5, scenario)
    assert five_runs is not None and five_runs > 2 * one_run  # composed, not the per-run figure
    capped = replace(private, goals=replace(private.goals, privacy=PrivacyGoals(max_epsilon=one_run + 0.5)))
    with pytest.raises(GoalRefusedError, match="the 5 runs of this iteration would spend epsilon"):
        cross_validate(capped, 5, out_dir=tmp_path / "cv", data_dir=medmnist_dir, max_train=MAX_TRAIN)
    assert not list(tmp_path.glob("cv/fold-*.json"))  # refused before any fold trained
    assert iteration_epsilon([tiny_study] * 5, scenario) is None  # no DP: nothing to compose
