"""FedProx (Li et al. 2020): FedAvg on the server, a proximal term at each node."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from medfed.aggregation.fedavg import FedAvg
from medfed.errors import ConfigError


class FedProx(FedAvg):
    name = "fedprox"

    def __init__(self, *, proximal_mu: float) -> None:
        if proximal_mu <= 0:
            raise ConfigError(f"FedProx needs proximal_mu > 0, got {proximal_mu}")
        self.proximal_mu = proximal_mu

    def configure_round(
        self, round_number: int, participants: Sequence[str], base_config: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        return {node: {**base_config, "proximal_mu": self.proximal_mu} for node in participants}
