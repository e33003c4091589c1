"""Federated averaging (McMahan et al. 2017), weighted by each node's sample count."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medfed.aggregation.strategy import Arrays, ClientReply, Strategy
from medfed.errors import StudyFailedError


def weighted_average(arrays: Sequence[Arrays], weights: Sequence[float]) -> Arrays:
    """Mean of each entry weighted by ``weights``; accumulates in float64.

    Integer entries (e.g. BatchNorm's batch counter) take the maximum: averaging a
    counter has no meaning, and it does not affect the model's output.
    """
    if not arrays:
        raise StudyFailedError("nothing to aggregate: no accepted updates in this round")
    total = float(sum(weights))
    result: Arrays = {}
    for key, first in arrays[0].items():
        if np.issubdtype(first.dtype, np.floating):
            acc = np.zeros(first.shape, dtype=np.float64)
            for item, weight in zip(arrays, weights, strict=True):
                acc += item[key].astype(np.float64) * (weight / total)
            result[key] = acc.astype(first.dtype)
        else:
            result[key] = np.asarray(np.max(np.stack([item[key] for item in arrays]), axis=0))
    return result


class FedAvg(Strategy):
    name = "fedavg"

    def aggregate(
        self, round_number: int, global_params: Arrays, replies: Sequence[ClientReply]
    ) -> Arrays:
        # Sorted by node so the float sum is the same whatever order replies arrived in.
        ordered = sorted(replies, key=lambda r: r.node)
        return weighted_average([r.params for r in ordered], [r.num_samples for r in ordered])
