"""Pick a strategy by the name in the study file."""

from __future__ import annotations

from medfed.aggregation.fedavg import FedAvg
from medfed.aggregation.fedprox import FedProx
from medfed.aggregation.strategy import Strategy
from medfed.errors import ConfigError


def build_strategy(name: str, *, proximal_mu: float = 0.0) -> Strategy:
    if name == "fedavg":
        return FedAvg()
    if name == "fedprox":
        return FedProx(proximal_mu=proximal_mu)
    raise ConfigError(f"unknown strategy {name!r}; choose fedavg or fedprox")
