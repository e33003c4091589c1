"""Client-level differential privacy (DP-FedAvg, McMahan et al. 2018) as a strategy wrapper.

The node half clips its update (new − global, all float entries as one vector) to
``clip_norm``; this server half refuses any update over the bound, averages the
clipped updates uniformly and adds Gaussian noise of standard deviation
``noise_multiplier * clip_norm / n`` to the mean. Each hospital's influence on the
released model is thus bounded and hidden: (ε, δ) at the hospital level, accounted
by the RDP accountant with sampling rate 1 and one step per round.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from medfed.aggregation.strategy import Arrays, ClientReply, Strategy
from medfed.errors import UpdateRejectedError

# Float32 clipping at the node leaves the norm a hair above the bound.
_NORM_SLACK = 1e-4

Gaussian = Callable[[tuple[int, ...], float], np.ndarray]


def update_norm(new: Arrays, old: Arrays) -> float:
    floats = [k for k, v in new.items() if np.issubdtype(v.dtype, np.floating)]
    return float(np.sqrt(sum(float(np.sum((new[k].astype(np.float64) - old[k]) ** 2)) for k in floats)))


class ClientLevelDP(Strategy):
    """Wraps ``inner`` (whose round configuration it extends) with DP-FedAvg aggregation."""

    def __init__(
        self, inner: Strategy, *, noise_multiplier: float, clip_norm: float, delta: float, gaussian: Gaussian
    ) -> None:
        self.inner = inner
        self.name = f"dp_fedavg({inner.name})"
        self.noise_multiplier = noise_multiplier
        self.clip_norm = clip_norm
        self.delta = delta
        self._gaussian = gaussian

    def configure_round(
        self, round_number: int, participants: Sequence[str], base_config: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        configs = self.inner.configure_round(round_number, participants, base_config)
        extra = {
            "mechanism": "dp_fedavg",
            "noise_multiplier": self.noise_multiplier,
            "clip_norm": self.clip_norm,
            "delta": self.delta,
        }
        return {node: {**config, **extra} for node, config in configs.items()}

    def check_update(self, global_params: Arrays, reply: ClientReply) -> None:
        norm = update_norm(reply.params, global_params)
        if norm > self.clip_norm * (1 + _NORM_SLACK):
            raise UpdateRejectedError(
                f"update from {reply.node} has norm {norm:.4g} > clip_norm {self.clip_norm:g}: "
                "the node did not apply the client half of dp_fedavg (clipping)"
            )

    def aggregate(
        self, round_number: int, global_params: Arrays, replies: Sequence[ClientReply]
    ) -> Arrays:
        n = len(replies)
        sigma = self.noise_multiplier * self.clip_norm / n
        result: Arrays = {}
        for key, base in global_params.items():
            if not np.issubdtype(base.dtype, np.floating):
                result[key] = np.asarray(np.max(np.stack([r.params[key] for r in replies]), axis=0))
                continue
            mean_delta = sum(r.params[key].astype(np.float64) - base for r in replies) / n
            noisy = base + mean_delta + self._gaussian(base.shape, sigma)
            result[key] = noisy.astype(base.dtype)
        return result
