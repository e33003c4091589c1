"""Byzantine-robust aggregation (standard 5.5.1.1e: survive malicious computing parties).

Each rule works on the updates ``new - global`` of the float entries, flattened per node,
and returns ``global + robust(updates)``. Integer entries follow FedAvg (the maximum).
Breakdown points — the largest fraction of arbitrary (malicious) updates a rule tolerates:

* coordinate-wise **median**: just under 1/2 of the nodes, per coordinate;
* coordinate-wise **trimmed mean** (trim β from each end): β (e.g. 0.2 tolerates 20 %);
* **Krum** / multi-Krum (Blanchard et al. 2017) with f assumed attackers: needs n ≥ 2f + 3;
  picks the update(s) closest to their n − f − 2 nearest neighbours;
* **norm bounding**: clips every update to the median update norm before averaging; bounds
  the influence of a scaled update but does not remove a well-hidden one.

All rules ignore sample counts by design: a malicious node can lie about its count.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medfed.aggregation.fedavg import weighted_average
from medfed.aggregation.strategy import Arrays, ClientReply, Strategy
from medfed.errors import ConfigError, StudyFailedError


def _float_keys(params: Arrays) -> list[str]:
    return sorted(k for k, v in params.items() if np.issubdtype(v.dtype, np.floating))


def _updates(global_params: Arrays, replies: Sequence[ClientReply]) -> tuple[list[str], np.ndarray]:
    """Float keys and the (n, D) float64 matrix of each node's update, nodes sorted by name."""
    if not replies:
        raise StudyFailedError("nothing to aggregate: no accepted updates in this round")
    keys = _float_keys(global_params)
    ordered = sorted(replies, key=lambda r: r.node)
    rows = [
        np.concatenate([(r.params[k].astype(np.float64) - global_params[k]).ravel() for k in keys]) for r in ordered
    ]
    return keys, np.stack(rows)


def _apply(global_params: Arrays, keys: list[str], step: np.ndarray, replies: Sequence[ClientReply]) -> Arrays:
    result = weighted_average([r.params for r in replies], [1.0] * len(replies))  # integer entries
    offset = 0
    for key in keys:
        base = global_params[key]
        result[key] = (base + step[offset : offset + base.size].reshape(base.shape)).astype(base.dtype)
        offset += base.size
    return result


class Median(Strategy):
    name = "median"

    def aggregate(self, round_number: int, global_params: Arrays, replies: Sequence[ClientReply]) -> Arrays:
        keys, updates = _updates(global_params, replies)
        return _apply(global_params, keys, np.median(updates, axis=0), replies)


class TrimmedMean(Strategy):
    name = "trimmed_mean"

    def __init__(self, trim_fraction: float = 0.2) -> None:
        if not 0 <= trim_fraction < 0.5:
            raise ConfigError(f"trim_fraction must be in [0, 0.5), not {trim_fraction}")
        self.trim_fraction = trim_fraction

    def aggregate(self, round_number: int, global_params: Arrays, replies: Sequence[ClientReply]) -> Arrays:
        keys, updates = _updates(global_params, replies)
        n = updates.shape[0]
        k = int(np.floor(self.trim_fraction * n))
        ordered = np.sort(updates, axis=0)
        kept = ordered[k : n - k] if n - 2 * k > 0 else ordered
        return _apply(global_params, keys, kept.mean(axis=0), replies)


def krum_scores(updates: np.ndarray, f: int) -> np.ndarray:
    """Each update's sum of squared distances to its n − f − 2 nearest other updates."""
    n = updates.shape[0]
    closest = n - f - 2
    if n < 2 * f + 3:
        raise StudyFailedError(f"Krum with f={f} needs at least {2 * f + 3} updates, got {n}")
    sq = np.sum(updates**2, axis=1)
    dist = np.maximum(sq[:, None] + sq[None, :] - 2 * updates @ updates.T, 0.0)
    np.fill_diagonal(dist, np.inf)
    return np.sort(dist, axis=1)[:, :closest].sum(axis=1)


class Krum(Strategy):
    """Multi-Krum: average the ``m`` updates with the lowest Krum score (m = 1: Krum)."""

    name = "krum"

    def __init__(self, f: int = 1, m: int = 1) -> None:
        if f < 0 or m < 1:
            raise ConfigError(f"Krum needs f >= 0 and m >= 1, not f={f}, m={m}")
        self.f, self.m = f, m
        self.last_selected: list[str] = []

    def aggregate(self, round_number: int, global_params: Arrays, replies: Sequence[ClientReply]) -> Arrays:
        keys, updates = _updates(global_params, replies)
        chosen = np.argsort(krum_scores(updates, self.f))[: self.m]
        ordered = sorted(replies, key=lambda r: r.node)
        self.last_selected = [ordered[i].node for i in sorted(chosen)]
        return _apply(global_params, keys, updates[chosen].mean(axis=0), replies)


class NormBounded(Strategy):
    """Clip each update to the median update norm, then take the plain mean."""

    name = "norm_bounded"

    def aggregate(self, round_number: int, global_params: Arrays, replies: Sequence[ClientReply]) -> Arrays:
        keys, updates = _updates(global_params, replies)
        norms = np.linalg.norm(updates, axis=1)
        bound = float(np.median(norms))
        scale = np.minimum(1.0, bound / np.maximum(norms, 1e-12))
        return _apply(global_params, keys, (updates * scale[:, None]).mean(axis=0), replies)
