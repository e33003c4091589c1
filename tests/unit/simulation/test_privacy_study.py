"""Differential privacy through a whole study, in one process, on real MedMNIST data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from medfed.core.config import Mechanism, Partition, PrivacyConfig, load_study
from medfed.errors import ConfigError, StudyFailedError
from medfed.orchestration.scenario import prepare_scenario
from medfed.simulation import simulate

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pneumonia-3-hospitals.toml"
CPU = torch.device("cpu")


def _study(privacy: PrivacyConfig, **training: object):
    base = load_study(EXAMPLE)
    study = replace(base, data=replace(base.data, dataset="breastmnist", partition=Partition.IID), privacy=privacy)
    return study.with_training(**{"rounds": 3, "batch_size": 32, **training})


@pytest.mark.clause("5.4.3.3-4", "5.4.1")
def test_client_level_dp_accounts_epsilon_every_round(medmnist_dir: Path) -> None:
    study = _study(PrivacyConfig(mechanism=Mechanism.DP_FEDAVG, noise_multiplier=1.0, clip_norm=0.5))
    scenario = prepare_scenario(study, data_dir=medmnist_dir)
    outcome = simulate(study, scenario.datasets, device=CPU)
    rounds = outcome.summary["rounds"]
    assert all(r["accepted"] == list(study.hospitals) for r in rounds)  # every node clipped
    eps = [r["epsilon"]["hospital-a"] for r in rounds]
    assert eps[0] > 0 and eps == sorted(eps) and eps[0] < eps[-1]
    assert all(np.isfinite(v).all() for v in outcome.params.values() if v.dtype.kind == "f")


@pytest.mark.clause("5.4.3.3-3", "5.4.3.3-4")
def test_dp_sgd_refuses_batchnorm_with_the_fix_and_runs_with_groupnorm(medmnist_dir: Path) -> None:
    privacy = PrivacyConfig(mechanism=Mechanism.DP_SGD, noise_multiplier=1.1, clip_norm=1.0)
    study = _study(privacy, rounds=2)
    scenario = prepare_scenario(study, data_dir=medmnist_dir)
    with pytest.raises(ConfigError, match="use model 'cnn2d_gn' \\(GroupNorm\\)"):
        simulate(study, scenario.datasets, device=CPU)
    study = study.with_training(model="cnn2d_gn")
    outcome = simulate(study, scenario.datasets, device=CPU)
    last = outcome.summary["rounds"][-1]["epsilon"]
    assert set(last) == set(study.hospitals) and all(0 < e < 50 for e in last.values())


@pytest.mark.clause("5.4.3.3-4")
def test_a_hospital_cap_refuses_rounds_past_its_budget(medmnist_dir: Path) -> None:
    privacy = PrivacyConfig(mechanism=Mechanism.DP_FEDAVG, noise_multiplier=1.0, clip_norm=0.5)
    study = _study(privacy, rounds=4, min_nodes=2)
    scenario = prepare_scenario(study, data_dir=medmnist_dir)
    outcome = simulate(study, scenario.datasets, device=CPU, max_epsilon={"hospital-c": 3.0})
    rounds = outcome.summary["rounds"]
    refused = [r for r in rounds if "hospital-c" in r["dropped"]]
    assert refused and "cap of 3" in refused[0]["dropped"]["hospital-c"]
    assert max(r["epsilon"].get("hospital-c", 0.0) for r in rounds) <= 3.0
    with pytest.raises(StudyFailedError, match="min_nodes"):
        simulate(study.with_training(min_nodes=3), scenario.datasets, device=CPU, max_epsilon={"hospital-c": 3.0})


@pytest.mark.clause("5.4.3.3-4")
def test_adaptive_clipping_runs_through_a_study(medmnist_dir: Path) -> None:
    privacy = PrivacyConfig(
        mechanism=Mechanism.DP_FEDAVG, noise_multiplier=1.0, clip_norm=5.0, adaptive_clipping=True
    )
    study = _study(privacy, rounds=3)
    scenario = prepare_scenario(study, data_dir=medmnist_dir)
    outcome = simulate(study, scenario.datasets, device=CPU)
    assert all("unclipped" in r["metrics"] for r in outcome.summary["rounds"])
    with pytest.raises(ConfigError, match="not combined with secure_aggregation"):
        PrivacyConfig(mechanism=Mechanism.DP_FEDAVG, adaptive_clipping=True, secure_aggregation=True)
