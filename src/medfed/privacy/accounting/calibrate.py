"""The noise multiplier that meets a privacy budget: the inverse of an accountant."""

from __future__ import annotations

from collections.abc import Callable

from medfed.errors import ConfigError
from medfed.privacy.accounting.base import Accountant, check_delta, check_step
from medfed.privacy.accounting.rdp import RDPAccountant

# Beyond this σ the model learns nothing; a budget needing more is refused (as Opacus).
_MAX_NOISE = 2**11


def noise_for_epsilon(
    *,
    target_epsilon: float,
    delta: float,
    sample_rate: float,
    steps: int,
    epsilon_tolerance: float = 0.01,
    accountant: Callable[[], Accountant] = RDPAccountant,
) -> float:
    """Smallest noise multiplier (found by bisection, to within ``epsilon_tolerance`` of ε)
    such that ``steps`` steps at ``sample_rate`` spend at most ``target_epsilon`` at ``delta``.

    The answer errs on the safe side: ε(σ) <= target_epsilon always holds, and
    ε(σ) >= target_epsilon − epsilon_tolerance. Mirrors Opacus's ``get_noise_multiplier``.
    """
    check_step(1.0, sample_rate, steps)
    delta = check_delta(delta)
    if not target_epsilon > 0:
        raise ConfigError(f"target_epsilon must be > 0, not {target_epsilon!r}")
    if not epsilon_tolerance > 0:
        raise ConfigError(f"epsilon_tolerance must be > 0, not {epsilon_tolerance!r}")

    def spent(sigma: float) -> float:
        trial = accountant()
        trial.step(noise_multiplier=sigma, sample_rate=sample_rate, steps=steps)
        return trial.epsilon(delta)

    # ε falls as σ grows: double until under budget, then bisect [low, high].
    low, high = 0.0, 1.0
    eps_high = spent(high)
    while eps_high > target_epsilon:
        low, high = high, 2 * high
        if high > _MAX_NOISE:
            raise ConfigError(
                f"epsilon {target_epsilon:g} at delta {delta:g} over {steps} steps at sample rate "
                f"{sample_rate:g} would need a noise multiplier above {_MAX_NOISE}; "
                "raise the budget, lower the sample rate or train fewer steps"
            )
        eps_high = spent(high)
    while target_epsilon - eps_high > epsilon_tolerance and high - low > 1e-12 * high:
        middle = (low + high) / 2
        eps_middle = spent(middle)
        if eps_middle <= target_epsilon:
            high, eps_high = middle, eps_middle
        else:
            low = middle
    return high
