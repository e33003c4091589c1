"""Naming malicious updates before a robust rule averages them (standard 5.5.1.1e).

Robust rules (median, trimmed mean, Krum) tolerate bad updates without saying whose they
were. ``ScreenedStrategy`` adds detection: each node's distance to the coordinate-wise median
update is compared with the median of those distances; a node farther than ``factor`` times
that is flagged, recorded (``flagged``), and left out of the aggregate (policy: exclude) as
long as at least half of the nodes remain. The median distance is itself robust: fewer than
half of the nodes cannot move it far, so the threshold adapts to honest spread (e.g. non-IID
data) without being set by the attackers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from medfed.aggregation.strategy import Arrays, ClientReply, Strategy
from medfed.errors import ConfigError


def _float_keys(params: Arrays) -> list[str]:
    return sorted(k for k, v in params.items() if np.issubdtype(v.dtype, np.floating))


def outliers(global_params: Arrays, replies: Sequence[ClientReply], factor: float) -> dict[str, float]:
    """Node → distance ratio for every update farther than ``factor`` × the median distance."""
    keys = _float_keys(global_params)
    names = [r.node for r in replies]
    rows = np.stack(
        [np.concatenate([(r.params[k].astype(np.float64) - global_params[k]).ravel() for k in keys]) for r in replies]
    )
    if not np.all(np.isfinite(rows)):
        bad = {names[i]: float("inf") for i in np.flatnonzero(~np.all(np.isfinite(rows), axis=1))}
        return bad
    centre = np.median(rows, axis=0)
    distance = np.linalg.norm(rows - centre, axis=1)
    scale = float(np.median(distance))
    if scale <= 0:
        return {names[i]: float("inf") for i in np.flatnonzero(distance > 0)} if len(names) > 2 else {}
    ratio = distance / scale
    return {names[i]: float(ratio[i]) for i in np.flatnonzero(ratio > factor)}


class ScreenedStrategy(Strategy):
    """Flag outlying updates, exclude them, and aggregate the rest with ``inner``."""

    def __init__(self, inner: Strategy, *, factor: float = 3.0) -> None:
        if factor <= 1:
            raise ConfigError(f"the screening factor must exceed 1, not {factor}")
        self.inner = inner
        self.factor = factor
        self.name = f"screened_{inner.name}"
        self.flagged: dict[int, dict[str, float]] = {}  # round -> node -> distance ratio

    def configure_round(
        self, round_number: int, participants: Sequence[str], base_config: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        return self.inner.configure_round(round_number, participants, base_config)

    def check_update(self, global_params: Arrays, reply: ClientReply) -> None:
        self.inner.check_update(global_params, reply)

    def aggregate(self, round_number: int, global_params: Arrays, replies: Sequence[ClientReply]) -> Arrays:
        found = outliers(global_params, replies, self.factor) if len(replies) >= 3 else {}
        kept = [r for r in replies if r.node not in found]
        self.flagged[round_number] = found
        if len(kept) * 2 < len(replies):  # too many flagged to trust the screen: keep everyone
            kept = list(replies)
        return self.inner.aggregate(round_number, global_params, kept)

    def aggregate_metrics(self, replies: Sequence[ClientReply]) -> dict[str, float]:
        return self.inner.aggregate_metrics(replies)
