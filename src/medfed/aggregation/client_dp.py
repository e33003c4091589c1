"""Client-level differential privacy (DP-FedAvg, McMahan et al. 2018) as a strategy wrapper.

The node half clips its update (new − global, all float entries as one vector) to
``clip_norm``; this server half refuses any update over the bound, averages the
clipped updates uniformly and adds Gaussian noise of standard deviation
``noise_multiplier * clip_norm / n`` to the mean. Each hospital's influence on the
released model is thus bounded and hidden: (ε, δ) at the hospital level, accounted
with sampling rate 1 and one step per round, where the Gaussian curve is exact
(``TightAccountant``: exact GDP, tighter than the RDP bound).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medfed.aggregation.strategy import Arrays, ClientReply, Strategy
from medfed.errors import ConfigError, UpdateRejectedError

# Float32 clipping at the node leaves the norm a hair above the bound.
_NORM_SLACK = 1e-4

Gaussian = Callable[[tuple[int, ...], float], np.ndarray]


def update_norm(new: Arrays, old: Arrays) -> float:
    floats = [k for k, v in new.items() if np.issubdtype(v.dtype, np.floating)]
    return float(np.sqrt(sum(float(np.sum((new[k].astype(np.float64) - old[k]) ** 2)) for k in floats)))


@dataclass(frozen=True)
class AdaptiveClipping:
    """Andrew et al. 2021: move the clip norm towards the ``target_quantile`` of update norms.

    Each round C <- C * exp(-lr * (b - target)), where b is the fraction of nodes whose
    update was within C, released with Gaussian noise of std ``count_noise / n``.
    """

    target_quantile: float = 0.5
    learning_rate: float = 0.2
    count_noise: float = 0.0  # 0: spend a tenth of the budget on the count (sigma_b = 1.58 sigma)


class ClientLevelDP(Strategy):
    """Wraps ``inner`` (whose round configuration it extends) with DP-FedAvg aggregation."""

    def __init__(
        self,
        inner: Strategy,
        *,
        noise_multiplier: float,
        clip_norm: float,
        delta: float,
        gaussian: Gaussian,
        adaptive: AdaptiveClipping | None = None,
    ) -> None:
        self.inner = inner
        self.name = f"dp_fedavg({inner.name})"
        self.noise_multiplier = noise_multiplier
        self.clip_norm = clip_norm
        self.delta = delta
        self.adaptive = adaptive
        self.clip_history: list[float] = [clip_norm]
        self._released_fraction: float | None = None
        self._gaussian = gaussian

    def _update_noise_multiplier(self) -> float:
        """The share of the privacy budget left for the update once the count is released.

        Releasing the count with std sigma_b costs what an update noise of 2 * sigma_b
        would; the two compose as 1/sigma^2 = 1/z^2 + 1/(2 sigma_b)^2 (Andrew et al., Thm 1).
        """
        if self.adaptive is None:
            return self.noise_multiplier
        remaining = self.noise_multiplier**-2 - (2 * self._count_noise()) ** -2
        if remaining <= 0:
            raise ConfigError(
                f"clip_count_noise={self._count_noise():g} leaves no privacy budget for the update at "
                f"noise_multiplier={self.noise_multiplier:g}; raise one of them"
            )
        return float(remaining**-0.5)

    def configure_round(
        self, round_number: int, participants: Sequence[str], base_config: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        configs = self.inner.configure_round(round_number, participants, base_config)
        extra = {
            "mechanism": "dp_fedavg",
            "noise_multiplier": self.noise_multiplier,
            "clip_norm": self.clip_norm,
            "delta": self.delta,
            "adaptive_clipping": self.adaptive is not None,
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
        sigma = self._update_noise_multiplier() * self.clip_norm / n
        result: Arrays = {}
        for key, base in global_params.items():
            if not np.issubdtype(base.dtype, np.floating):
                # Integer buffers (BatchNorm's batch counter) count a hospital's batches: the
                # released model keeps the global value rather than publish them un-noised.
                result[key] = base.copy()
                continue
            mean_delta = sum(r.params[key].astype(np.float64) - base for r in replies) / n
            noisy = base + mean_delta + self._gaussian(base.shape, sigma)
            if key.endswith("running_var"):
                # Post-processing (free under DP): a variance cannot be negative, and a negative
                # BatchNorm variance would turn every prediction into NaN.
                noisy = np.maximum(noisy, 1e-5)
            result[key] = noisy.astype(base.dtype)
        if self.adaptive is not None:
            self._adapt(replies)
        return result

    def aggregate_metrics(self, replies: Sequence[ClientReply]) -> dict[str, float]:
        """Nothing the hospitals measured on their data is published un-noised beside ε: their
        validation scores, losses and sizes would each tell about one hospital. Only the noisy
        fraction of unclipped updates that adaptive clipping releases (and pays for) is kept."""
        del replies
        return {} if self._released_fraction is None else {"unclipped": self._released_fraction}

    def _count_noise(self) -> float:
        assert self.adaptive is not None
        # (2 sigma_b)^-2 = 0.1 sigma^-2: the count costs a tenth of the privacy budget.
        return self.adaptive.count_noise or self.noise_multiplier / (2 * np.sqrt(0.1))

    def _adapt(self, replies: Sequence[ClientReply]) -> None:
        assert self.adaptive is not None
        n = len(replies)
        count = sum(float(r.metrics.get("unclipped", 0.0)) for r in replies)
        fraction = (count + float(self._gaussian((1,), self._count_noise())[0])) / n
        self._released_fraction = fraction
        self.clip_norm *= float(np.exp(-self.adaptive.learning_rate * (fraction - self.adaptive.target_quantile)))
        self.clip_history.append(self.clip_norm)
