"""The accountant interface (STYLE principle 5) and the history every accountant keeps.

An accountant is told what each DP step did (``step``) and answers how much privacy has
been spent (``epsilon``); ``state_dict`` / ``load_state_dict`` carry it across restarts.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, NamedTuple, Protocol, runtime_checkable

from medfed.errors import ConfigError


class Step(NamedTuple):
    """``steps`` consecutive releases of the subsampled Gaussian mechanism.

    ``noise_multiplier`` is the noise std divided by the L2 sensitivity (clip norm);
    ``sample_rate`` the Poisson probability that a given record is in a step's batch.
    """

    noise_multiplier: float
    sample_rate: float
    steps: int


@runtime_checkable
class Accountant(Protocol):
    """What the node's privacy guard and the trainers need from an accountant."""

    @property
    def history(self) -> tuple[Step, ...]: ...

    def step(self, *, noise_multiplier: float, sample_rate: float, steps: int = 1) -> None: ...

    def epsilon(self, delta: float) -> float: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def check_step(noise_multiplier: float, sample_rate: float, steps: int) -> Step:
    """Validate one ``step`` call; a noise multiplier of 0 is allowed and means ε = ∞."""
    if (
        not isinstance(noise_multiplier, Real)
        or not math.isfinite(noise_multiplier)
        or noise_multiplier < 0
    ):
        raise ConfigError(
            f"noise_multiplier must be a finite number >= 0, not {noise_multiplier!r}"
        )
    if not isinstance(sample_rate, Real) or not 0.0 <= sample_rate <= 1.0:
        raise ConfigError(f"sample_rate must lie in [0, 1], not {sample_rate!r}")
    if isinstance(steps, bool) or not isinstance(steps, Integral) or steps < 1:
        raise ConfigError(f"steps must be a positive integer, not {steps!r}")
    return Step(float(noise_multiplier), float(sample_rate), int(steps))


def check_delta(delta: float) -> float:
    if not isinstance(delta, Real) or not 0.0 < delta < 1.0:
        raise ConfigError(f"delta must lie strictly between 0 and 1, not {delta!r}")
    return float(delta)


class HistoryAccountant:
    """Shared bookkeeping: a history of :class:`Step` in which a step with the same noise
    and sample rate as the previous one extends it (as Opacus does), plus serialisation."""

    mechanism = "abstract"

    def __init__(self) -> None:
        self._history: list[Step] = []

    @property
    def history(self) -> tuple[Step, ...]:
        """Every (noise multiplier, sample rate, steps) accounted so far, oldest first."""
        return tuple(self._history)

    def step(self, *, noise_multiplier: float, sample_rate: float, steps: int = 1) -> None:
        """Account ``steps`` more steps of the subsampled Gaussian mechanism."""
        new = check_step(noise_multiplier, sample_rate, steps)
        if self._history and self._history[-1][:2] == new[:2]:
            last = self._history.pop()
            new = last._replace(steps=last.steps + new.steps)
        self._history.append(new)

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON-ready state: the mechanism name and the history as lists."""
        return {"mechanism": self.mechanism, "history": [list(s) for s in self._history]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace this accountant's history by ``state`` (from :meth:`state_dict`)."""
        if not isinstance(state, dict) or state.get("mechanism") != self.mechanism:
            found = state.get("mechanism") if isinstance(state, dict) else type(state).__name__
            raise ConfigError(f"state is for accountant {found!r}, not {self.mechanism!r}")
        entries = state.get("history")
        if not isinstance(entries, list) or not all(
            isinstance(e, list | tuple) and len(e) == 3 for e in entries
        ):
            raise ConfigError(
                "state 'history' must be a list of [noise_multiplier, sample_rate, steps]"
            )
        self._history = [check_step(*entry) for entry in entries]

    def __len__(self) -> int:
        return len(self._history)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(history={self._history!r})"
