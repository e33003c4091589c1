"""Shamir t-of-n secret sharing over the prime field GF(p), p = 2^521 − 1 (a Mersenne prime).

A 521-bit field holds any secret below 2^512 (here 32-byte seeds and X25519 keys) as one
field element, so no byte chunking is needed. A share is the point (x, f(x)) of a random
polynomial f of degree t − 1 with f(0) = secret; the holder's x is its node id + 1 (never 0).
Any t shares give f(0) by Lagrange interpolation; t − 1 shares are consistent with every
secret, so they reveal nothing (information-theoretically).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from medfed.privacy.secagg.errors import SecAggError

PRIME = 2**521 - 1
SHARE_BYTES = 66  # ⌈521 / 8⌉: one field element, big-endian
MAX_SECRET_BITS = 512


class RandomSource(Protocol):
    """Where secrets come from: the ``secrets`` module, or a seeded stand-in in tests."""

    def token_bytes(self, nbytes: int) -> bytes: ...


def _random_element(rng: RandomSource) -> int:
    # Rejection sampling keeps coefficients exactly uniform: a 521-bit draw is ≥ p only
    # when it equals p itself.
    while True:
        value = int.from_bytes(rng.token_bytes(SHARE_BYTES), "big") & PRIME
        if value < PRIME:
            return value


def split(secret: int, xs: Sequence[int], threshold: int, rng: RandomSource) -> dict[int, int]:
    """Shares of ``secret`` (0 ≤ secret < 2^512) at the distinct non-zero points ``xs``: x → f(x)."""
    if not 0 <= secret < 2**MAX_SECRET_BITS:
        raise SecAggError("a Shamir secret must be an integer in [0, 2^512)")
    if not 1 <= threshold <= len(xs):
        raise SecAggError(f"threshold {threshold} must be in [1, {len(xs)}] (number of holders)")
    if len(set(xs)) != len(xs) or any(not 0 < x < PRIME for x in xs):
        raise SecAggError("share points must be distinct and non-zero")
    coefficients = [secret] + [_random_element(rng) for _ in range(threshold - 1)]
    shares = {}
    for x in xs:
        y = 0
        for c in reversed(coefficients):  # Horner
            y = (y * x + c) % PRIME
        shares[x] = y
    return shares


def reconstruct(shares: Mapping[int, int], threshold: int) -> int:
    """f(0) from at least ``threshold`` shares x → y (the first t by x are used)."""
    if len(shares) < threshold:
        raise SecAggError(f"need {threshold} shares to reconstruct, got {len(shares)}")
    points = sorted(shares.items())[:threshold]
    secret = 0
    for i, (xi, yi) in enumerate(points):
        numerator, denominator = 1, 1
        for j, (xj, _) in enumerate(points):
            if j != i:
                numerator = numerator * xj % PRIME
                denominator = denominator * (xj - xi) % PRIME
        secret = (secret + yi * numerator * pow(denominator, -1, PRIME)) % PRIME
    return secret


def to_bytes(y: int) -> bytes:
    return y.to_bytes(SHARE_BYTES, "big")


def from_bytes(data: bytes) -> int:
    """A share value from its 66 bytes; refuses anything that is not a field element."""
    value = int.from_bytes(data, "big")
    if len(data) != SHARE_BYTES or value >= PRIME:
        raise SecAggError(f"a share must be {SHARE_BYTES} bytes encoding a value below 2^521 − 1")
    return value
