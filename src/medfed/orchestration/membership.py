"""Membership inference against the released model (standard 5.4.3.3-3: DP resists it).

Members are the hospitals' training records; non-members are the hospitals' held-out
validation records — the same distribution, never trained on — or, where those are fewer
than 100, the test split (which may differ in distribution, so the attack then measures
shift too; the result says which was used). The two sets are balanced to the same size,
and both attacks are scored on exactly these records. An AUC near 0.5 means the model
does not tell them apart.

Two attacks:

- loss threshold (Yeom et al. 2018): training records tend to have lower loss;
- shadow models (Shokri et al. 2017), optional: the attacker is assumed to own the public
  test split and nothing else — no hospital record, training or validation. It splits the
  test records it owns (those not used as evaluation non-members) into disjoint chunks,
  trains shadow k with the study's recipe on chunk k, and uses chunk k+1 as that shadow's
  non-members; so every attacker record is "in" for one shadow and "out" for another, and
  no shadow ever trains on a record the target is attacked on. The attack classifier
  learns from the shadows' outputs and is applied to the target's outputs on the same
  member / non-member sets as the loss-threshold attack.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from medfed.aggregation import weighted_average
from medfed.core.config import ClassWeight, Mechanism, StudyConfig
from medfed.core.messages import Arrays
from medfed.data import Split, images_to_float
from medfed.errors import ConfigError
from medfed.evaluation.attacks import loss_threshold_attack, output_features, shadow_attack
from medfed.models import build_model, load_arrays, model_arrays
from medfed.orchestration.scenario import Scenario
from medfed.training import (
    LocalTrainConfig,
    as_tensors,
    derive_seed,
    per_sample_loss,
    predict_proba,
    train_local,
)

# Below this many training records a shadow is not a model of the target's training.
MIN_SHADOW_RECORDS = 20


@dataclass(frozen=True)
class _Eval:
    """The balanced sets both attacks are scored on."""

    members: Split
    nonmembers: Split
    source: str  # "validation" or "test"
    test_used: np.ndarray  # indices into the test split taken as non-members (empty if none)


def _evaluation_sets(study: StudyConfig, scenario: Scenario) -> _Eval:
    members_x = np.concatenate([ds.train.images for ds in scenario.datasets.values()])
    members_y = np.concatenate([ds.train.labels for ds in scenario.datasets.values()])
    held_x = np.concatenate([ds.val.images for ds in scenario.datasets.values()])
    held_y = np.concatenate([ds.val.labels for ds in scenario.datasets.values()])
    source = "validation"
    if len(held_y) < 100:
        held_x, held_y, source = scenario.test.images, scenario.test.labels, "test"
    size = min(len(members_y), len(held_y))
    rng = np.random.default_rng(derive_seed(study.training.seed, "membership"))
    pick = rng.permutation(len(members_y))[:size]
    other = rng.permutation(len(held_y))[:size]
    return _Eval(
        members=Split(members_x[pick], members_y[pick]),
        nonmembers=Split(held_x[other], held_y[other]),
        source=source,
        test_used=other if source == "test" else np.empty(0, dtype=np.int64),
    )


def membership_inference(
    study: StudyConfig,
    scenario: Scenario,
    params: Arrays,
    *,
    device: torch.device,
    shadow_models: int = 2,
) -> dict[str, Any]:
    """Both attacks' AUC and advantage on balanced member / non-member sets.

    The top-level keys describe the loss-threshold attack; ``"shadow"`` holds the
    shadow-model attack, or why it was skipped. ``shadow_models=0`` leaves it out. Its
    cost does not grow with the count: every attacker-owned record trains one shadow once
    per epoch (a few seconds for the demo's 28×28 CNN on two CPU cores).
    """
    if shadow_models < 0:
        raise ConfigError(f"shadow_models must be >= 0 (0: no shadow attack), not {shadow_models}")
    sets = _evaluation_sets(study, scenario)
    model = _model(study, scenario, sets.members.images, seed=study.training.seed, device=device)
    load_arrays(model, params)

    def losses(split: Split) -> np.ndarray:
        x, y = as_tensors(images_to_float(split.images, dims=scenario.dims), split.labels, device)
        return per_sample_loss(model, x, y)

    result = loss_threshold_attack(losses(sets.members), losses(sets.nonmembers))
    outcome: dict[str, Any] = {
        "attack": "loss_threshold",
        "auc": result.auc,
        "advantage": result.advantage,
        "records": 2 * len(sets.members.labels),
        "nonmembers": sets.source,
    }
    if shadow_models > 0:
        outcome["shadow"] = _shadow_attack(study, scenario, model, sets, shadow_models, device)
    return outcome


def _model(
    study: StudyConfig, scenario: Scenario, sample: np.ndarray, *, seed: int, device: torch.device
) -> torch.nn.Module:
    return build_model(
        study.training.model,
        in_channels=images_to_float(sample[:1], dims=scenario.dims).shape[1],
        n_classes=scenario.n_classes,
        dims=scenario.dims,
        image_size=study.data.size,
        seed=seed,
    ).to(device)


def _features(model: torch.nn.Module, split: Split, dims: int, device: torch.device) -> np.ndarray:
    x, _ = as_tensors(images_to_float(split.images, dims=dims), split.labels, device)
    return output_features(predict_proba(model, x), split.labels)


def _shadow_attack(
    study: StudyConfig,
    scenario: Scenario,
    target: torch.nn.Module,
    sets: _Eval,
    count: int,
    device: torch.device,
) -> dict[str, Any]:
    start = time.perf_counter()
    seed = study.training.seed
    # The attacker's records: the test split minus any record the target is attacked on.
    owned = np.setdiff1d(np.arange(len(scenario.test.labels)), sets.test_used)
    owned = np.random.default_rng(derive_seed(seed, "membership", "shadow")).permutation(owned)
    chunks = max(count, 2)  # one shadow still needs a second chunk as its non-members
    # A shadow trains on no more records than the target did: overfitting depends on it.
    members_total = sum(len(ds.train.labels) for ds in scenario.datasets.values())
    per_shadow = min(len(owned) // chunks, members_total)
    base = {"attack": "shadow_models", "shadow_models": count, "shadow_data": "test"}
    if per_shadow < MIN_SHADOW_RECORDS:
        return base | {
            "skipped": f"{len(owned)} attacker-owned test records give {per_shadow} per shadow "
            f"for {count} shadows; at least {MIN_SHADOW_RECORDS} are needed"
        }
    parts = [owned[i * per_shadow : (i + 1) * per_shadow] for i in range(chunks)]
    test = scenario.test
    features, labels = [], []
    for k in range(count):
        inside = Split(test.images[parts[k]], test.labels[parts[k]])
        outside_idx = parts[(k + 1) % chunks]
        outside = Split(test.images[outside_idx], test.labels[outside_idx])
        shadow = _train_shadow(study, scenario, inside, seed=derive_seed(seed, "shadow", k), device=device)
        features += [_features(shadow, split, scenario.dims, device) for split in (inside, outside)]
        labels += [np.ones(per_shadow, dtype=bool), np.zeros(per_shadow, dtype=bool)]
    result = shadow_attack(
        np.concatenate(features),
        np.concatenate(labels),
        _features(target, sets.members, scenario.dims, device),
        _features(target, sets.nonmembers, scenario.dims, device),
    )
    return base | {
        "auc": result.auc,
        "advantage": result.advantage,
        "shadow_records": per_shadow * chunks,
        "records_per_shadow": per_shadow,
        "recipe": "dp_sgd" if study.privacy.mechanism is Mechanism.DP_SGD else "plain",
        "seconds": time.perf_counter() - start,
    }


def _train_shadow(
    study: StudyConfig, scenario: Scenario, data: Split, *, seed: int, device: torch.device
) -> torch.nn.Module:
    """One shadow trained with the target's recipe, federation included.

    The shadow's records are dealt evenly to as many pretend hospitals as the study has
    (the attacker does not know the real partition); each round every one trains
    ``local_epochs`` from the shared weights and the results are averaged by sample count,
    as FedAvg does. Memorisation depends on records per hospital and epochs, so central
    training would make shadows overfit more than the target. Sample-level DP (DP-SGD)
    is reproduced with the study's noise multiplier and clip norm. Client-level DP
    (DP-FedAvg) lives in the dispatcher's strategy, not in a training loop, and is not
    reproduced: those shadows train plainly (the result's ``recipe`` says which), so the
    attack's learned decision is calibrated on unprotected models. Secure aggregation
    does not change the model, so it needs no counterpart.
    """
    t = study.training
    model = _model(study, scenario, data.images, seed=seed, device=device)
    hospitals = max(1, min(len(scenario.datasets), len(data.labels) // 2))
    shares = np.array_split(np.arange(len(data.labels)), hospitals)
    tensors = [
        as_tensors(images_to_float(data.images[s], dims=scenario.dims), data.labels[s], device)
        for s in shares
    ]
    cfg = LocalTrainConfig(
        epochs=t.local_epochs,
        batch_size=t.batch_size,
        optimizer=t.optimizer.value,
        lr=t.lr,
        proximal_mu=t.proximal_mu,
        weight_decay=t.weight_decay,
        balanced_classes=t.class_weight is ClassWeight.BALANCED,
        seed=seed,
    )
    dp_sgd = study.privacy.mechanism is Mechanism.DP_SGD
    if dp_sgd:
        # Imported here: Opacus is heavy and only DP-SGD studies need it.
        from medfed.training.dp_sgd import train_local_dp
    for round_number in range(t.rounds):
        start = model_arrays(model)
        updates = []
        for h, (x, y) in enumerate(tensors):
            load_arrays(model, start)
            if dp_sgd:
                train_local_dp(
                    model, x, y, cfg,
                    noise_multiplier=study.privacy.noise_multiplier,
                    max_grad_norm=study.privacy.clip_norm,
                )
            else:
                train_local(model, x, y, cfg, shuffle_seed=derive_seed(seed, round_number, h))
            updates.append(model_arrays(model))
        load_arrays(model, weighted_average(updates, [len(s) for s in shares]))
    return model
