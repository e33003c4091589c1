"""Parameter checks shared by the mechanisms: each failure says which value and why."""

from __future__ import annotations

import math
from numbers import Real

from medfed.errors import ConfigError


def check_epsilon(epsilon: float) -> float:
    if not isinstance(epsilon, Real) or not math.isfinite(epsilon) or epsilon <= 0:
        raise ConfigError(f"epsilon must be a finite number > 0, not {epsilon!r}")
    return float(epsilon)


def check_delta(delta: float) -> float:
    if not isinstance(delta, Real) or not 0.0 < delta < 1.0:
        raise ConfigError(f"delta must lie strictly between 0 and 1, not {delta!r}")
    return float(delta)


def check_sensitivity(sensitivity: float, *, positive: bool = False) -> float:
    bad = not isinstance(sensitivity, Real) or not math.isfinite(sensitivity)
    if bad or sensitivity < 0 or (positive and sensitivity == 0):
        bound = "> 0" if positive else ">= 0"
        raise ConfigError(f"sensitivity must be a finite number {bound}, not {sensitivity!r}")
    return float(sensitivity)
