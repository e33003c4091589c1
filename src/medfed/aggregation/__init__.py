"""Aggregation strategies: pure functions of (round, global model, replies) — no network."""

from medfed.aggregation.fedavg import FedAvg, weighted_average
from medfed.aggregation.fedprox import FedProx
from medfed.aggregation.registry import build_strategy
from medfed.aggregation.strategy import ClientReply, Strategy
from medfed.aggregation.validation import validate_update

__all__ = [
    "ClientReply",
    "FedAvg",
    "FedProx",
    "Strategy",
    "build_strategy",
    "validate_update",
    "weighted_average",
]
