"""Rényi-DP accountant for DP-SGD and DP-FedAvg; ε agrees with Opacus's ``RDPAccountant``."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from medfed.errors import ConfigError
from medfed.privacy.accounting._rdp import rdp_to_epsilon, subsampled_gaussian_rdp
from medfed.privacy.accounting.base import HistoryAccountant, check_delta

# The orders Opacus searches: a fine grid near 1 (tight for large ε) and integers to 63.
DEFAULT_ORDERS: tuple[float, ...] = tuple(
    [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))
)


@functools.lru_cache(maxsize=256)
def _rdp_per_step(q: float, sigma: float, orders: tuple[float, ...]) -> np.ndarray:
    # Cached: the privacy guard re-asks the same (q, σ) every round.
    rdp = subsampled_gaussian_rdp(q, sigma, orders)
    rdp.setflags(write=False)
    return rdp


class RDPAccountant(HistoryAccountant):
    """Composes the RDP curves of every step and converts to (ε, δ) at the best order.

    Per step: the subsampled Gaussian mechanism (Mironov et al. 2019); composition adds
    RDP at each order; conversion as in Balle et al. 2020, the one Opacus uses.
    """

    mechanism = "rdp"

    def __init__(self, *, orders: Sequence[float] = DEFAULT_ORDERS) -> None:
        super().__init__()
        self.orders = self._check_orders(orders)

    @staticmethod
    def _check_orders(orders: Sequence[float]) -> tuple[float, ...]:
        values = tuple(float(a) for a in orders)
        if not values or not all(np.isfinite(a) and a > 1 for a in values):
            raise ConfigError("RDP orders must be a non-empty list of finite numbers > 1")
        return values

    def _spent(self, delta: float) -> tuple[float, float]:
        delta = check_delta(delta)
        if not self._history:
            return 0.0, float("nan")
        total = sum(
            (
                _rdp_per_step(s.sample_rate, s.noise_multiplier, self.orders) * s.steps
                for s in self._history
            ),
            start=np.zeros(len(self.orders)),
        )
        return rdp_to_epsilon(self.orders, total, delta)

    def epsilon(self, delta: float) -> float:
        """ε spent so far at ``delta`` (0 before any step, ∞ if a step had no noise)."""
        # Never below 0: a formally negative ε (only for δ near 1) is still 0-DP at best.
        return max(0.0, self._spent(delta)[0])

    def best_order(self, delta: float) -> float:
        """The Rényi order at which :meth:`epsilon` is attained; an end of ``orders`` means
        a wider range of orders could give a tighter ε."""
        return self._spent(delta)[1]

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "orders": list(self.orders)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if "orders" in state:
            self.orders = self._check_orders(state["orders"])
