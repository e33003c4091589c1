"""Checks an update must pass before it may touch the global model."""

from __future__ import annotations

import numpy as np

from medfed.aggregation.strategy import Arrays
from medfed.errors import UpdateRejectedError


def validate_update(global_params: Arrays, update: Arrays, *, node: str) -> None:
    """Refuse an update whose keys, shapes or dtypes differ from the model, or holds NaN/Inf."""
    missing = sorted(set(global_params) - set(update))
    extra = sorted(set(update) - set(global_params))
    if missing or extra:
        raise UpdateRejectedError(
            f"update from {node} does not match the model: missing {missing[:5]}, "
            f"unexpected {extra[:5]}"
        )
    for key, reference in global_params.items():
        value = update[key]
        if value.shape != reference.shape:
            raise UpdateRejectedError(
                f"update from {node}: {key!r} has shape {value.shape}, expected {reference.shape}"
            )
        if value.dtype != reference.dtype:
            raise UpdateRejectedError(
                f"update from {node}: {key!r} has dtype {value.dtype}, expected {reference.dtype}"
            )
        if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
            bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
            raise UpdateRejectedError(f"update from {node}: {key!r} holds {bad} NaN/Inf values")
