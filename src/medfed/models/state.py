"""Model parameters as an ordered mapping of numpy arrays: what crosses the wire."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from medfed.errors import ModelError


def model_arrays(model: nn.Module) -> dict[str, np.ndarray]:
    """Every parameter and buffer (BN statistics included), copied to CPU numpy."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def arrays_to_state(arrays: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


def load_arrays(model: nn.Module, arrays: Mapping[str, np.ndarray]) -> None:
    """Load arrays into ``model``, refusing missing, extra or mis-shaped entries."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise ModelError(f"parameters do not fit the model: missing {missing}, unexpected {extra}")
    for key, tensor in expected.items():
        if tuple(arrays[key].shape) != tuple(tensor.shape):
            raise ModelError(
                f"parameter {key!r} has shape {tuple(arrays[key].shape)}, "
                f"model expects {tuple(tensor.shape)}"
            )
    model.load_state_dict(arrays_to_state(arrays))
