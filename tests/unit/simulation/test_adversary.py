"""Malicious-party simulation (5.5.1.1e): 2 of 10 hospitals attack; robust rules hold the model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from medfed.core.config import (
    AdversaryConfig,
    Behaviour,
    Party,
    PrivacyConfig,
    StrategyName,
    load_study,
)
from medfed.orchestration.results import evaluate_params
from medfed.orchestration.scenario import prepare_scenario
from medfed.roles import Role
from medfed.simulation import simulate

HORIZONTAL = Path(__file__).resolve().parents[3] / "src" / "medfed" / "orchestration" / "appendix_a_horizontal.toml"
CPU = torch.device("cpu")
HOSPITALS = tuple(f"h{i:02d}" for i in range(10))


@pytest.fixture(scope="module")
def ten_hospitals():
    base = load_study(HORIZONTAL)
    parties = tuple(p for p in base.parties if p.role is not Role.DATA) + tuple(Party(h, Role.DATA) for h in HOSPITALS)
    study = replace(base, parties=parties, privacy=PrivacyConfig()).with_training(min_nodes=5, rounds=5)
    scenario = prepare_scenario(study, data_dir=None)
    clean = simulate(study, scenario.datasets, device=CPU)
    return study, scenario, evaluate_params(study, scenario, clean.params, device=CPU)[0].auc


def _run(study, scenario, strategy: str, behaviour: Behaviour):
    attacked = replace(study, adversary=AdversaryConfig(nodes=HOSPITALS[:2], behaviour=behaviour)).with_training(
        strategy=StrategyName(strategy), krum_f=2
    )
    outcome = simulate(attacked, scenario.datasets, device=CPU)
    return evaluate_params(attacked, scenario, outcome.params, device=CPU)[0].auc, outcome.summary["injections"]


@pytest.mark.clause("5.5.1.1e")
def test_a_sign_flipping_fifth_breaks_fedavg_but_not_the_robust_rules(ten_hospitals) -> None:
    study, scenario, clean_auc = ten_hospitals
    fedavg_auc, injections = _run(study, scenario, "fedavg", Behaviour.SIGN_FLIP)
    assert fedavg_auc < clean_auc - 0.3  # the attack works against plain averaging
    # Ground truth: both adversaries corrupted every round, recorded apart from detection.
    assert sorted({i["node"] for i in injections}) == list(HOSPITALS[:2]) and len(injections) == 10
    for rule in ("median", "trimmed_mean", "krum"):
        auc, _ = _run(study, scenario, rule, Behaviour.SIGN_FLIP)
        assert abs(auc - clean_auc) <= 0.03, (rule, auc, clean_auc)


@pytest.mark.clause("5.5.1.1e")
def test_random_factor_adversaries_are_tolerated_by_the_median(ten_hospitals) -> None:
    study, scenario, clean_auc = ten_hospitals
    auc, injections = _run(study, scenario, "median", Behaviour.RANDOM_FACTORS)
    assert abs(auc - clean_auc) <= 0.03
    assert all(i["values_changed"] > 0 for i in injections)
