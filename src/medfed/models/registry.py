"""Build a model by name; the name travels in the study file."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from medfed.errors import ModelError
from medfed.models.cnn import SmallCNN2d, SmallCNN3d
from medfed.models.linear import LogisticRegression

_BUILDERS: dict[str, tuple[Callable[..., nn.Module], int, str]] = {
    "cnn2d": (SmallCNN2d, 2, "batch"),
    "cnn3d": (SmallCNN3d, 3, "batch"),
    # GroupNorm twins: per-sample gradients (DP-SGD) are undefined under BatchNorm.
    "cnn2d_gn": (SmallCNN2d, 2, "group"),
    "cnn3d_gn": (SmallCNN3d, 3, "group"),
    # dims 0: feature vectors (tabular data, extracted image features).
    "logreg": (LogisticRegression, 0, "none"),
}
MODEL_NAMES = tuple(sorted(_BUILDERS))
_SUGGESTED = {0: "logreg", 2: "cnn2d", 3: "cnn3d"}


def build_model(
    name: str, *, in_channels: int, n_classes: int, dims: int, image_size: int = 28, seed: int = 0
) -> nn.Module:
    """A freshly initialised model; the same seed gives the same weights everywhere."""
    if name not in _BUILDERS:
        raise ModelError(f"unknown model {name!r}; available: {', '.join(MODEL_NAMES)}")
    builder, model_dims, norm = _BUILDERS[name]
    if model_dims != dims:
        raise ModelError(
            f"model {name!r} takes {model_dims}D inputs but the dataset is {dims}D; "
            f"use {_SUGGESTED.get(dims, 'cnn2d')}"
        )
    if n_classes < 2:
        raise ModelError(f"a classifier needs at least 2 classes, got {n_classes}")
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return builder(in_channels, n_classes, image_size, norm=norm)
    finally:
        torch.random.set_rng_state(generator_state)
