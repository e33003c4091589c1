"""Membership inference against the released model (standard 5.4.3.3-3: DP resists it).

The loss-threshold attack of Yeom et al. 2018: training records tend to have lower
loss than unseen ones. Members are the hospitals' training records; non-members are
the hospitals' held-out validation records — the same distribution, never trained on —
or, where those are fewer than 100, the test split (which may differ in distribution,
so the attack then measures shift too; the result says which was used). The two sets
are balanced to the same size. An AUC near 0.5 means the model does not tell them apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from medfed.core.config import StudyConfig
from medfed.core.messages import Arrays
from medfed.data import images_to_float
from medfed.evaluation.attacks import loss_threshold_attack
from medfed.models import build_model, load_arrays
from medfed.orchestration.scenario import Scenario
from medfed.training import as_tensors, derive_seed, per_sample_loss


def membership_inference(
    study: StudyConfig, scenario: Scenario, params: Arrays, *, device: torch.device
) -> dict[str, Any]:
    """Attack AUC and advantage on balanced member / non-member sets."""
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
    model = build_model(
        study.training.model,
        in_channels=images_to_float(members_x[:1], dims=scenario.dims).shape[1],
        n_classes=scenario.n_classes,
        dims=scenario.dims,
        image_size=study.data.size,
    ).to(device)
    load_arrays(model, params)

    def losses(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
        x, y = as_tensors(images_to_float(images, dims=scenario.dims), labels, device)
        return per_sample_loss(model, x, y)

    result = loss_threshold_attack(
        losses(members_x[pick], members_y[pick]),
        losses(held_x[other], held_y[other]),
    )
    return {
        "attack": "loss_threshold",
        "auc": result.auc,
        "advantage": result.advantage,
        "records": 2 * size,
        "nonmembers": source,
    }
