"""What a node feeds into secure aggregation, and how the sum becomes the next model.

Each node contributes ``w * (new - global)`` for every float entry, flattened, followed
by ``w`` itself (w = its sample count): the sum then yields the sample-weighted FedAvg
step without revealing any node's update or count. Values are clipped elementwise to
the protocol's bound, so one node's effect on the sum is bounded even if it misbehaves.
"""

from __future__ import annotations

import numpy as np

from medfed.aggregation.strategy import Arrays
from medfed.errors import StudyFailedError


def _float_keys(params: Arrays) -> list[str]:
    # Sorted: the node and the dispatcher may hold the same entries in different orders.
    return sorted(k for k, v in params.items() if np.issubdtype(v.dtype, np.floating))


def weighted_delta_vector(
    new: Arrays, old: Arrays, weight: int, *, clip: float, noise: np.ndarray | None = None
) -> np.ndarray:
    """float64 (D + 1,): the weighted update, flattened in key order, then the weight.

    ``noise`` (D,), if given, is added to the update part: a node's share of the
    Gaussian noise of client-level DP when no party may see an update in the clear.
    """
    parts = [(new[k].astype(np.float64) - old[k]).ravel() * weight for k in _float_keys(old)]
    update = np.concatenate(parts)
    if noise is not None:
        update = update + noise
    vector = np.concatenate([update, np.array([float(weight)])])
    return np.clip(vector, -clip, clip)


def apply_weighted_sum(global_params: Arrays, total: np.ndarray) -> Arrays:
    """The next global model from the securely summed vectors."""
    weight = float(total[-1])
    if weight < 0.5:
        raise StudyFailedError("secure aggregation summed to no samples: nothing to apply")
    result = dict(global_params)
    offset = 0
    for key in _float_keys(global_params):
        base = global_params[key]
        step = total[offset : offset + base.size].reshape(base.shape) / weight
        result[key] = (base + step).astype(base.dtype)
        offset += base.size
    if offset != total.size - 1:
        raise StudyFailedError(f"secure sum has {total.size} values; the model needs {offset + 1}")
    return result
