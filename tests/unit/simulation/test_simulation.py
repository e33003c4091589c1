"""The in-process study on real MedMNIST files: strategies, 3D volumes, reproducibility."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from medfed.core.config import Partition, StrategyName, load_study
from medfed.orchestration.scenario import prepare_scenario
from medfed.simulation import simulate

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pneumonia-3-hospitals.toml"
CPU = torch.device("cpu")


def _study(dataset: str, **training: object):
    base = load_study(EXAMPLE)
    study = replace(base, data=replace(base.data, dataset=dataset, partition=Partition.IID))
    return study.with_training(**{"rounds": 1, "batch_size": 32, **training})


@pytest.mark.clause("5.4.2.3h")
def test_same_seed_same_model_and_fedprox_changes_it(medmnist_dir: Path) -> None:
    study = _study("breastmnist")
    scenario = prepare_scenario(study, data_dir=medmnist_dir)
    a = simulate(study, scenario.datasets, device=CPU)
    b = simulate(study, scenario.datasets, device=CPU)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    prox = study.with_training(strategy=StrategyName.FEDPROX, proximal_mu=1.0)
    c = simulate(prox, scenario.datasets, device=CPU)
    assert not np.array_equal(a.params["head.1.weight"], c.params["head.1.weight"])
    assert a.summary["rounds"][0]["accepted"] == list(study.hospitals)


def test_volumes_train_with_the_3d_model(medmnist_dir: Path) -> None:
    study = _study("adrenalmnist3d", model="cnn3d", batch_size=64)
    scenario = prepare_scenario(study, data_dir=medmnist_dir)
    outcome = simulate(study, scenario.datasets, device=CPU)
    assert outcome.params["features.0.weight"].ndim == 5  # Conv3d kernels
    metrics = outcome.summary["rounds"][0]["metrics"]
    assert 0.0 <= metrics["val_auc"] <= 1.0 and metrics["train_loss"] > 0


def test_multiclass_subset_trains(medmnist_dir: Path) -> None:
    study = _study("retinamnist")
    scenario = prepare_scenario(study, data_dir=medmnist_dir)
    outcome = simulate(study, scenario.datasets, device=CPU)
    assert outcome.params["head.3.weight"].shape == (5, 128)
    assert outcome.params["features.0.weight"].shape[1] == 3  # RGB input
