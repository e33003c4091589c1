"""Pick a strategy by the name in the study file."""

from __future__ import annotations

from medfed.aggregation.client_dp import AdaptiveClipping, ClientLevelDP
from medfed.aggregation.fedavg import FedAvg
from medfed.aggregation.fedprox import FedProx
from medfed.aggregation.robust import Krum, Median, NormBounded, TrimmedMean
from medfed.aggregation.strategy import Strategy
from medfed.core.config import Mechanism, PrivacyConfig
from medfed.errors import ConfigError
from medfed.privacy.dp import SecureRandom

STRATEGIES = ("fedavg", "fedprox", "median", "trimmed_mean", "krum", "norm_bounded")


def build_strategy(
    name: str,
    *,
    proximal_mu: float = 0.0,
    privacy: PrivacyConfig | None = None,
    trim_fraction: float = 0.2,
    krum_f: int = 1,
    krum_m: int = 1,
) -> Strategy:
    """The study's strategy, wrapped by the server half of its privacy mechanism."""
    inner: Strategy
    if name == "fedavg":
        inner = FedAvg()
    elif name == "fedprox":
        inner = FedProx(proximal_mu=proximal_mu)
    elif name == "median":
        inner = Median()
    elif name == "trimmed_mean":
        inner = TrimmedMean(trim_fraction)
    elif name == "krum":
        inner = Krum(f=krum_f, m=krum_m)
    elif name == "norm_bounded":
        inner = NormBounded()
    else:
        raise ConfigError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}")
    if privacy is not None and privacy.mechanism is Mechanism.DP_FEDAVG:
        rng = SecureRandom()
        return ClientLevelDP(
            inner,
            noise_multiplier=privacy.noise_multiplier,
            clip_norm=privacy.clip_norm,
            delta=privacy.delta,
            gaussian=lambda shape, sigma: rng.normal(shape, scale=sigma),
            adaptive=AdaptiveClipping(
                target_quantile=privacy.target_quantile,
                learning_rate=privacy.clip_learning_rate,
                count_noise=privacy.clip_count_noise,
            )
            if privacy.adaptive_clipping
            else None,
        )
    return inner
