"""DP resists membership inference (5.4.3.3-3): the attack is run, not assumed to fail."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from medfed.core.config import Mechanism, Partition, PrivacyConfig, load_study
from medfed.data import Split
from medfed.orchestration.membership import membership_inference
from medfed.orchestration.scenario import prepare_scenario
from medfed.privacy.accounting import noise_for_epsilon
from medfed.simulation import simulate

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pneumonia-3-hospitals.toml"
PER_HOSPITAL, BATCH, EPOCHS, ROUNDS = 60, 8, 10, 4


@pytest.mark.clause("5.4.3.3-3")
def test_dp_sgd_at_epsilon_8_pushes_the_attack_towards_chance(medmnist_dir: Path, monkeypatch) -> None:
    # Small hospitals trained long: without DP the model memorises its records.
    steps = ROUNDS * round(EPOCHS / (BATCH / PER_HOSPITAL))
    sigma = noise_for_epsilon(target_epsilon=7.5, delta=1e-5, sample_rate=BATCH / PER_HOSPITAL, steps=steps)
    # Fixed randomness for a repeatable test; production draws batches from os.urandom.
    monkeypatch.setattr("medfed.training.dp_sgd._sampling_seed", lambda: 1234)
    torch.manual_seed(0)
    base = load_study(EXAMPLE)
    results = {}
    for mechanism in (Mechanism.NONE, Mechanism.DP_SGD):
        study = replace(
            base,
            parties=tuple(p for p in base.parties if p.name != "hospital-c"),
            data=replace(base.data, dataset="breastmnist", partition=Partition.IID, val_fraction=0.4),
            privacy=PrivacyConfig(mechanism=mechanism, noise_multiplier=sigma, clip_norm=1.0),
        ).with_training(model="cnn2d_gn", rounds=ROUNDS, local_epochs=EPOCHS, batch_size=BATCH, lr=2e-3, min_nodes=2)
        scenario = prepare_scenario(study, data_dir=medmnist_dir)
        small = {
            name: replace(ds, train=Split(ds.train.images[:PER_HOSPITAL], ds.train.labels[:PER_HOSPITAL]))
            for name, ds in scenario.datasets.items()
        }
        scenario = replace(scenario, datasets=small)
        outcome = simulate(study, scenario.datasets, device=torch.device("cpu"))
        results[mechanism] = (membership_inference(study, scenario, outcome.params, device=torch.device("cpu")), outcome)
    plain, private = results[Mechanism.NONE][0], results[Mechanism.DP_SGD][0]
    epsilon = max(results[Mechanism.DP_SGD][1].summary["rounds"][-1]["epsilon"].values())
    assert epsilon <= 8.0
    assert plain["nonmembers"] == "validation"  # same distribution as the members
    assert plain["auc"] > 0.56  # the attack works on the memorising model
    assert abs(private["auc"] - 0.5) < abs(plain["auc"] - 0.5) - 0.03
    assert private["advantage"] < plain["advantage"]
