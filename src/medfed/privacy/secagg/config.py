"""Public, per-round parameters every party agrees on before the round starts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from medfed.privacy.secagg._graph import default_degree, neighbour_graph
from medfed.privacy.secagg.errors import SecAggError

_MAX_ID = 2**32 - 2  # ids travel as 4-byte fields; Shamir x-coordinates are id + 1


@dataclass(frozen=True, kw_only=True)
class SecAggConfig:
    """One round's public parameters; validated on construction.

    client_ids   the n ≥ 3 nodes invited to the round (distinct, 0 ≤ id < 2^32 − 1; sorted here)
    threshold    t: shares needed to rebuild a node's secret; (k + 1)/2 < t ≤ k
    clip         bound on |x| for every update value x (same unit as the update)
    round_seed   ≥ 16 public random bytes, fresh per round: identifies the round, seeds the
                 neighbour graph and is bound into every key derivation and ciphertext
    scale_bits   fixed-point scale 2^scale_bits (16 → resolution 1.5e-5)
    modulus_bits ring Z_{2^32} or Z_{2^64}
    neighbours   k, the degree of the neighbour graph; None → ``default_degree(n)``
    """

    client_ids: tuple[int, ...]
    threshold: int
    clip: float
    round_seed: bytes
    scale_bits: int = 16
    modulus_bits: int = 32
    neighbours: int | None = None
    degree: int = field(init=False)

    def __post_init__(self) -> None:
        ids = tuple(sorted(self.client_ids))
        object.__setattr__(self, "client_ids", ids)
        n = len(ids)
        if n < 3:
            raise SecAggError(f"secure aggregation needs at least 3 nodes, got {n}")
        if len(set(ids)) != n or not all(0 <= cid <= _MAX_ID for cid in ids):
            raise SecAggError(f"client ids must be distinct integers in [0, {_MAX_ID}]")
        if len(self.round_seed) < 16:
            raise SecAggError(f"round_seed must be at least 16 bytes, got {len(self.round_seed)}")
        if self.modulus_bits not in (32, 64):
            raise SecAggError(f"modulus_bits must be 32 or 64, got {self.modulus_bits}")
        if not 0 <= self.scale_bits <= self.modulus_bits - 2:
            raise SecAggError(f"scale_bits must be in [0, {self.modulus_bits - 2}]")
        if not (math.isfinite(self.clip) and self.clip > 0):
            raise SecAggError(f"clip must be a positive finite number, got {self.clip}")
        self._check_overflow()
        k = default_degree(n) if self.neighbours is None else self.neighbours
        if not (2 <= k <= n - 1) or (k < n - 1 and k % 2):
            raise SecAggError(
                f"neighbours must be n − 1 = {n - 1} or an even number in [2, {n - 2}], got {k}"
            )
        object.__setattr__(self, "degree", k)
        if not ((k + 1) / 2 < self.threshold <= k):
            raise SecAggError(
                f"threshold {self.threshold} must satisfy (k + 1)/2 < t ≤ k with k = {k} "
                f"neighbours: a majority of each neighbourhood, and recoverable if a node drops"
            )

    def _check_overflow(self) -> None:
        # The ring sum of n values each in [-clip·scale, clip·scale] must not wrap, or the
        # decoded sum is silently wrong.
        bound = len(self.client_ids) * self.clip * self.scale
        half = 2.0 ** (self.modulus_bits - 1)
        if bound >= half:
            raise SecAggError(
                f"overflow: n·clip·scale = {len(self.client_ids)}·{self.clip}·2^{self.scale_bits}"
                f" = {bound:.4g} must be below half the modulus 2^{self.modulus_bits - 1}"
                f" = {half:.4g}; lower clip or scale_bits, or use modulus_bits=64"
            )

    @classmethod
    def recommended(
        cls, client_ids: tuple[int, ...], *, clip: float, round_seed: bytes, **options: int
    ) -> SecAggConfig:
        """A config with the default degree k and the smallest majority threshold k//2 + 1."""
        k = options.pop("neighbours", None) or default_degree(len(set(client_ids)))
        threshold = options.pop("threshold", (k + 1) // 2 + 1)
        return cls(
            client_ids=client_ids,
            threshold=threshold,
            clip=clip,
            round_seed=round_seed,
            neighbours=k,
            **options,
        )

    @property
    def n(self) -> int:
        return len(self.client_ids)

    @property
    def scale(self) -> float:
        return float(2**self.scale_bits)

    @property
    def ring_dtype(self) -> np.dtype:
        """Little-endian unsigned words of the ring; arithmetic on them wraps mod 2^m."""
        return np.dtype(f"<u{self.modulus_bits // 8}")

    @cached_property
    def graph(self) -> dict[int, frozenset[int]]:
        """Node id → its k neighbours, derived from the public round seed."""
        return neighbour_graph(self.client_ids, self.degree, self.round_seed)
