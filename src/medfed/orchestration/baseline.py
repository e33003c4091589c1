"""The centralized plaintext baseline (clause 5.5.2-2): same model, same hyper-parameters,
trained on the union of the hospitals' training data."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from medfed.core.config import ClassWeight, StudyConfig
from medfed.core.messages import Arrays
from medfed.data import images_to_float
from medfed.models import build_model, model_arrays
from medfed.orchestration.scenario import Scenario
from medfed.training import LocalTrainConfig, as_tensors, derive_seed, train_local


@dataclass(frozen=True)
class BaselineOutcome:
    params: Arrays
    seconds: float


def train_centralized(study: StudyConfig, scenario: Scenario, *, device: torch.device) -> BaselineOutcome:
    """Epochs = rounds x local epochs, so both models see the data equally often."""
    start = time.perf_counter()
    t = study.training
    images = np.concatenate([ds.train.images for ds in scenario.datasets.values()])
    labels = np.concatenate([ds.train.labels for ds in scenario.datasets.values()])
    first = next(iter(scenario.datasets.values()))
    model = build_model(
        t.model,
        in_channels=images_to_float(first.train.images[:1], dims=scenario.dims).shape[1],
        n_classes=scenario.n_classes,
        dims=scenario.dims,
        image_size=study.data.size,
        seed=t.seed,
    ).to(device)
    x, y = as_tensors(images_to_float(images, dims=scenario.dims), labels, device)
    cfg = LocalTrainConfig(
        epochs=t.rounds * t.local_epochs,
        batch_size=t.batch_size,
        optimizer=t.optimizer.value,
        lr=t.lr,
        seed=t.seed,
        weight_decay=t.weight_decay,
        balanced_classes=t.class_weight is ClassWeight.BALANCED,
    )
    train_local(model, x, y, cfg, shuffle_seed=derive_seed(t.seed, "centralized"))
    return BaselineOutcome(model_arrays(model), time.perf_counter() - start)
