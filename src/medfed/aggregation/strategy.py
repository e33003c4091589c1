"""The one interface every strategy (and later every privacy wrapper) implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class ClientReply:
    """What a strategy sees of one node's answer for a round."""

    node: str
    params: Arrays
    num_samples: int
    metrics: Mapping[str, float] = field(default_factory=dict)


class Strategy(ABC):
    """Turns a round into per-node instructions, and the replies into a new model."""

    name: str = "strategy"

    def configure_round(
        self, round_number: int, participants: Sequence[str], base_config: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        """Per-node training configuration for ``round_number``."""
        return {node: dict(base_config) for node in participants}

    def check_update(self, global_params: Arrays, reply: ClientReply) -> None:
        """Refuse an update this strategy cannot accept (raise UpdateRejectedError)."""
        return None  # plain strategies accept any update that fits the model

    @abstractmethod
    def aggregate(
        self, round_number: int, global_params: Arrays, replies: Sequence[ClientReply]
    ) -> Arrays:
        """The next global model from the accepted replies of one round."""

    def aggregate_metrics(self, replies: Sequence[ClientReply]) -> dict[str, float]:
        """Sample-weighted mean of each metric the nodes reported."""
        totals: dict[str, float] = {}
        weights: dict[str, float] = {}
        for reply in replies:
            for key, value in reply.metrics.items():
                if value != value:  # NaN: a node whose validation split lacks a class
                    continue
                totals[key] = totals.get(key, 0.0) + value * reply.num_samples
                weights[key] = weights.get(key, 0.0) + reply.num_samples
        return {k: totals[k] / weights[k] for k in sorted(totals)}

