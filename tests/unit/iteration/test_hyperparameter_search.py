"""Hyper-parameter search (5.7.3.5), grid and random, with private selection by the
exponential mechanism when asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from medfed.core.config import StrategyName, StudyConfig
from medfed.core.goals import GoalRefusedError
from medfed.errors import ConfigError
from medfed.orchestration import model_iteration
from medfed.orchestration.model_iteration import _candidates, apply_params, parse_space, search
from medfed.privacy.dp import SeededRandom

from .conftest import MAX_TRAIN

pytestmark = pytest.mark.clause("5.7.3.5")


@pytest.fixture(scope="session")
def private_search(tiny_study: StudyConfig, medmnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    calls: list[dict[str, Any]] = []
    real = model_iteration.exponential_mechanism

    def spy(candidates: Any, scores: Any, **kwargs: Any) -> int:
        calls.append({"scores": list(scores), **kwargs})
        return real(candidates, scores, **kwargs)

    patch = pytest.MonkeyPatch()
    patch.setattr(model_iteration, "exponential_mechanism", spy)
    out = tmp_path_factory.mktemp("search")
    try:
        document = search(
            tiny_study, {"lr": [1e-3, 3e-3]}, mode="grid", private=True, epsilon=2.0,
            out_dir=out, data_dir=medmnist_dir, max_train=MAX_TRAIN, rng=SeededRandom(5),
        )
    finally:
        patch.undo()
    return {"document": document, "calls": calls, "out": out}


@pytest.mark.slow
def test_two_trial_search_yields_curves_and_a_private_selection(private_search: dict[str, Any]) -> None:
    document, calls = private_search["document"], private_search["calls"]
    runs = document["runs"]
    assert [r["params"] for r in runs] == [{"lr": 0.001}, {"lr": 0.003}]
    assert all(len(r["rounds"]) == 2 and np.isfinite(r["rounds"][-1]["val_loss"]) for r in runs)
    # The exponential mechanism chose, scored by the trials' validation AUCs, at the asked epsilon.
    assert len(calls) == 1
    assert calls[0]["epsilon"] == 2.0
    assert calls[0]["scores"] == pytest.approx([r["final"]["val_auc"] for r in runs])
    summary = document["summary"]
    assert summary["mechanism"] == "exponential" and summary["sensitivity"] == calls[0]["sensitivity"] > 0
    assert summary["params"] == runs[summary["chosen"]]["params"]
    html = (private_search["out"] / "iteration.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 2 and "exponential mechanism" in html and "sensitivity" in html


def test_sensitivity_is_one_over_the_smallest_class_side_weighted() -> None:
    from medfed.data import LocalDataset, Split

    def ds(labels: list[int]) -> LocalDataset:
        y = np.array(labels)
        return LocalDataset("pneumoniamnist", 28, Split(np.zeros((1, 28, 28), np.uint8), np.zeros(1, int)),
                            Split(np.zeros((len(y), 28, 28), np.uint8), y), 2, 2)

    # hospital a: 10 records, 2 positives -> 1/2, weight 10/30; b: 20 records, 10/10 -> 1/10, weight 20/30
    value = model_iteration.auc_sensitivity({"a": ds([1] * 2 + [0] * 8), "b": ds([1] * 10 + [0] * 10)})
    assert value == pytest.approx(max(10 / 30 / 2, 20 / 30 / 10))


def test_grid_and_random_candidates() -> None:
    space = parse_space(["lr=1e-3,3e-3", "local_epochs=1,2", "mu=0,0.01"])
    assert space == {"lr": [0.001, 0.003], "local_epochs": [1, 2], "mu": [0.0, 0.01]}
    assert len(_candidates(space, "grid", None, seed=0)) == 8
    drawn = _candidates(parse_space(["lr=1e-4:1e-2", "local_epochs=1,3"]), "random", 5, seed=0)
    assert len(drawn) == 5 and all(1e-4 <= c["lr"] <= 1e-2 and c["local_epochs"] in (1, 3) for c in drawn)
    assert drawn == _candidates(parse_space(["lr=1e-4:1e-2", "local_epochs=1,3"]), "random", 5, seed=0)


@pytest.mark.parametrize(
    ("specs", "says"),
    [(["momentum=0.9"], "NAME=V1,V2"), (["lr="], "NAME=V1,V2"), (["lr=fast"], "must be numbers")],
)
def test_bad_search_spaces_are_refused(specs: list[str], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_space(specs)


def test_ranges_need_random_mode_and_mu_selects_fedprox(tiny_study: StudyConfig) -> None:
    with pytest.raises(ConfigError, match="need mode 'random'"):
        _candidates(parse_space(["lr=1e-4:1e-2"]), "grid", None, seed=0)
    prox = apply_params(tiny_study, {"mu": 0.01, "lr": 0.003, "local_epochs": 2, "trial": 4})
    assert prox.training.strategy is StrategyName.FEDPROX and prox.training.proximal_mu == 0.01
    assert prox.training.lr == 0.003 and prox.training.local_epochs == 2
    with pytest.raises(ConfigError, match="unknown hyper-parameter"):
        apply_params(tiny_study, {"dropout": 0.5})


def test_private_selection_cannot_exceed_the_epsilon_goal(tiny_study: StudyConfig, tmp_path: Path) -> None:
    from dataclasses import replace

    from medfed.core.goals import PrivacyGoals

    capped = replace(tiny_study, goals=replace(tiny_study.goals, privacy=PrivacyGoals(max_epsilon=1.0)))
    with pytest.raises(GoalRefusedError, match="exceeds the goal's max_epsilon"):
        search(capped, {"lr": [1e-3]}, private=True, epsilon=3.0, out_dir=tmp_path)
