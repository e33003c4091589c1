"""The part of a strategy's state that changes between rounds, as JSON, for checkpoints.

Most strategies are pure functions of (round, model, replies). The ones that learn across
rounds (adaptive clipping moves the clip norm) expose their state here. A strategy that
offers ``state_dict()``/``load_state_dict()`` is used as is; the wrappers known today are
read through their public attributes. Wrappers nest (``inner``), so the walk recurses.
"""

from __future__ import annotations

from typing import Any

from medfed.aggregation import Strategy

# Public attributes that carry learned state, by strategy class name.
_LEARNED: dict[str, tuple[str, ...]] = {"ClientLevelDP": ("clip_norm", "clip_history")}


def strategy_state(strategy: Strategy) -> dict[str, Any]:
    """``{"name": ..., "state": {...}, "inner": {...}}``; JSON-able."""
    own: dict[str, Any]
    if hasattr(strategy, "state_dict"):
        own = dict(strategy.state_dict())
    else:
        own = {attr: _plain(getattr(strategy, attr)) for attr in _LEARNED.get(type(strategy).__name__, ())}
    result: dict[str, Any] = {"name": strategy.name, "state": own}
    inner = getattr(strategy, "inner", None)
    if isinstance(inner, Strategy):
        result["inner"] = strategy_state(inner)
    return result


def load_strategy_state(strategy: Strategy, saved: dict[str, Any]) -> None:
    """Put ``saved`` (from :func:`strategy_state`) back; ValueError if it is for another strategy."""
    if saved.get("name") != strategy.name:
        raise ValueError(f"the checkpoint is for strategy {saved.get('name')!r}, the study uses {strategy.name!r}")
    state = dict(saved.get("state", {}))
    if hasattr(strategy, "load_state_dict"):
        strategy.load_state_dict(state)
    else:
        for attr in _LEARNED.get(type(strategy).__name__, ()):
            if attr in state:
                setattr(strategy, attr, state[attr])
    inner = getattr(strategy, "inner", None)
    if isinstance(inner, Strategy) and "inner" in saved:
        load_strategy_state(inner, saved["inner"])


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [float(v) for v in value]
    return float(value)
