"""The hospital's own privacy guard: it accounts ε and enforces its cap whatever the study says.

Site policy lives here, after the job's code, where a study file cannot remove it
(STYLE principle 7). Each planned round is accounted *before* training: a round that
would push ε past ``max_epsilon`` is refused and spends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from medfed.aggregation.client_dp import update_norm
from medfed.errors import ConfigError, MedfedError
from medfed.privacy.accounting import TightAccountant

_MECHANISMS = frozenset({"none", "dp_sgd", "dp_fedavg"})


class PrivacyBudgetError(MedfedError):
    code = "privacy_budget"


@dataclass(frozen=True)
class RoundPrivacy:
    mechanism: str
    noise_multiplier: float
    clip_norm: float
    delta: float

    @classmethod
    def from_task(cls, config: dict[str, Any]) -> RoundPrivacy:
        """The round's privacy plan; ConfigError for a mechanism this node does not apply, or
        client-level DP under encryption, where nobody adds the noise the node would account."""
        mechanism = str(config.get("mechanism", "none"))
        if mechanism not in _MECHANISMS:
            raise ConfigError(
                f"the task asks for privacy mechanism {mechanism!r}; this node applies "
                f"{', '.join(sorted(_MECHANISMS))}"
            )
        if mechanism == "dp_fedavg" and config.get("encryption"):
            raise ConfigError(
                "the task combines dp_fedavg with encryption: the aggregator adds no noise to an "
                "encrypted sum, so the round would not be private as accounted; refused"
            )
        return cls(
            mechanism=str(config.get("mechanism", "none")),
            noise_multiplier=float(config.get("noise_multiplier", 0.0)),
            clip_norm=float(config.get("clip_norm", 1.0)),
            delta=float(config.get("delta", 1e-5)),
        )


class PrivacyGuard:
    """One per node process: the running ε of this hospital's data in this study."""

    def __init__(self, *, max_epsilon: float | None = None) -> None:
        if max_epsilon is not None and max_epsilon <= 0:
            raise MedfedError(f"max_epsilon must be > 0, not {max_epsilon}")
        self.max_epsilon = max_epsilon
        self.accountant = TightAccountant()

    def epsilon(self, delta: float) -> float:
        return self.accountant.epsilon(delta) if self.accountant.history else 0.0

    def admit(self, plan: RoundPrivacy, *, sample_rate: float, steps: int) -> float:
        """Account one round if it fits under the cap; returns ε after it, else raises."""
        if plan.mechanism == "none":
            if self.max_epsilon is not None:
                raise PrivacyBudgetError(
                    f"this hospital caps epsilon at {self.max_epsilon:g}; the study asks for a round "
                    "without differential privacy, which has no finite epsilon"
                )
            return 0.0
        trial = TightAccountant()
        trial.load_state_dict(self.accountant.state_dict())
        trial.step(noise_multiplier=plan.noise_multiplier, sample_rate=sample_rate, steps=steps)
        after = trial.epsilon(plan.delta)
        if self.max_epsilon is not None and after > self.max_epsilon:
            raise PrivacyBudgetError(
                f"this round would raise epsilon from {self.epsilon(plan.delta):.3f} to {after:.3f} "
                f"(delta={plan.delta:g}), above this hospital's cap of {self.max_epsilon:g}; refused"
            )
        self.accountant = trial
        return after


def clip_update(
    new: dict[str, np.ndarray], old: dict[str, np.ndarray], clip_norm: float
) -> tuple[dict[str, np.ndarray], float]:
    """Scale the update ``new - old`` (all float entries together) to L2 norm <= ``clip_norm``.

    Returns the clipped parameters and the norm before clipping.
    """
    floats = [k for k, v in new.items() if np.issubdtype(v.dtype, np.floating)]
    norm = update_norm(new, old)  # the same measure the dispatcher checks against
    scale = min(1.0, clip_norm / norm) if norm > 0 else 1.0
    clipped = dict(new)
    for k in floats:
        clipped[k] = (old[k] + (new[k] - old[k]) * scale).astype(new[k].dtype)
    return clipped, norm
