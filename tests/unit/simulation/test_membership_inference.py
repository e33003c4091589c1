"""DP resists membership inference (5.4.3.3-3): the attacks are run, not assumed to fail."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from medfed.core.config import Mechanism, Partition, PrivacyConfig, load_study
from medfed.data import Split, images_to_float
from medfed.models import build_model, model_arrays
from medfed.orchestration import membership
from medfed.orchestration.membership import membership_inference
from medfed.orchestration.scenario import prepare_scenario
from medfed.privacy.accounting import noise_for_epsilon
from medfed.simulation import simulate

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pneumonia-3-hospitals.toml"
PER_HOSPITAL, BATCH, EPOCHS, ROUNDS = 60, 8, 10, 4

pytestmark = pytest.mark.clause("5.4.3.3-3")


@pytest.fixture(scope="module")
def attacked(medmnist_dir: Path) -> dict[Mechanism, tuple[dict[str, Any], float]]:
    """Each mechanism's attack results and final ε; both targets are trained once per module."""
    # Small hospitals trained long: without DP the model memorises its records.
    steps = ROUNDS * round(EPOCHS / (BATCH / PER_HOSPITAL))
    sigma = noise_for_epsilon(target_epsilon=7.5, delta=1e-5, sample_rate=BATCH / PER_HOSPITAL, steps=steps)
    base = load_study(EXAMPLE)
    results = {}
    with pytest.MonkeyPatch.context() as patch:
        # Fixed randomness for a repeatable test; production draws batches from os.urandom.
        patch.setattr("medfed.training.dp_sgd._sampling_seed", lambda: 1234)
        torch.manual_seed(0)
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
            attack = membership_inference(
                study, scenario, outcome.params, device=torch.device("cpu"), shadow_models=2
            )
            epsilon = max(outcome.summary["rounds"][-1]["epsilon"].values()) if mechanism is Mechanism.DP_SGD else float("inf")
            results[mechanism] = (attack, epsilon)
    return results


def test_dp_sgd_at_epsilon_8_pushes_the_attack_towards_chance(attacked: dict) -> None:
    (plain, _), (private, epsilon) = attacked[Mechanism.NONE], attacked[Mechanism.DP_SGD]
    assert epsilon <= 8.0
    assert plain["nonmembers"] == "validation"  # same distribution as the members
    assert plain["auc"] > 0.56  # the attack works on the memorising model
    assert abs(private["auc"] - 0.5) < abs(plain["auc"] - 0.5) - 0.03
    assert private["advantage"] < plain["advantage"]


def test_dp_sgd_at_epsilon_8_pushes_the_shadow_model_attack_towards_chance(attacked: dict) -> None:
    plain, private = attacked[Mechanism.NONE][0]["shadow"], attacked[Mechanism.DP_SGD][0]["shadow"]
    assert attacked[Mechanism.DP_SGD][1] <= 8.0
    assert (plain["recipe"], private["recipe"]) == ("plain", "dp_sgd")  # shadows copy the recipe
    assert plain["shadow_models"] == 2 and plain["shadow_records"] >= 2 * 20
    assert plain["auc"] > 0.56  # the shadows taught the attacker what memorised outputs look like
    assert abs(private["auc"] - 0.5) < abs(plain["auc"] - 0.5) - 0.03
    assert private["advantage"] < plain["advantage"]


def test_the_shadows_never_train_on_a_record_the_target_is_attacked_on(
    medmnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No validation data: the non-members come from the test split, which the attacker
    # also draws its shadow data from. The two must stay disjoint.
    base = load_study(EXAMPLE)
    study = replace(
        base, data=replace(base.data, dataset="breastmnist", partition=Partition.IID, val_fraction=0.0)
    ).with_training(rounds=1, local_epochs=1)
    scenario = prepare_scenario(study, data_dir=medmnist_dir)
    few = {
        name: replace(ds, train=Split(ds.train.images[:20], ds.train.labels[:20]))
        for name, ds in scenario.datasets.items()
    }
    scenario = replace(scenario, datasets=few)
    seen: dict[str, set[bytes]] = {"shadow": set(), "attacked": set()}
    real_train, real_loss = membership._train_shadow, membership.per_sample_loss

    def train_shadow(study_: Any, scenario_: Any, data: Split, **kwargs: Any) -> torch.nn.Module:
        as_float = np.ascontiguousarray(images_to_float(data.images, dims=2), dtype=np.float32)
        seen["shadow"].update(row.tobytes() for row in as_float)
        return real_train(study_, scenario_, data, **kwargs)

    def loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
        seen["attacked"].update(row.numpy().tobytes() for row in x)
        return real_loss(model, x, y)

    monkeypatch.setattr(membership, "_train_shadow", train_shadow)
    monkeypatch.setattr(membership, "per_sample_loss", loss)
    target = build_model("cnn2d", in_channels=1, n_classes=scenario.n_classes, dims=2)
    attack = membership.membership_inference(study, scenario, model_arrays(target), device=torch.device("cpu"))
    assert attack["nonmembers"] == "test" and attack["records"] == 2 * 60
    assert len(seen["attacked"]) == 2 * 60 and len(seen["shadow"]) == attack["shadow"]["shadow_records"]
    assert seen["shadow"].isdisjoint(seen["attacked"])
