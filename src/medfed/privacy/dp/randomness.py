"""Randomness for DP noise: a CSPRNG by default, a seeded twin for reproducible tests.

Both sources share one set of transforms (uniform → Gaussian by Box–Muller, uniform →
Laplace by inverse CDF), so the statistical tests that run on :class:`SeededRandom`
exercise exactly the code that turns :class:`SecureRandom`'s bits into noise. Only the
53-bit integers underneath differ: ``os.urandom`` versus numpy's PCG64.

Known limit: noise is added in IEEE doubles, so the floating-point leak of textbook
Laplace noise (Mironov 2012, "snapping") is not addressed; it needs an attacker who sees
the exact bits of the released value.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Protocol, runtime_checkable

import numpy as np

Size = int | tuple[int, ...]

_TWO_POW_53 = float(2**53)


@runtime_checkable
class RandomSource(Protocol):
    """What a DP mechanism draws from. ``size`` follows numpy (int or shape tuple)."""

    def uniform(self, size: Size = ()) -> np.ndarray:
        """Uniform doubles in the open interval (0, 1), 53 random bits each."""
        ...

    def normal(self, size: Size = (), scale: float = 1.0) -> np.ndarray:
        """Centred Gaussian noise of standard deviation ``scale``."""
        ...

    def laplace(self, size: Size = (), scale: float = 1.0) -> np.ndarray:
        """Centred Laplace noise of scale ``scale`` (variance ``2 * scale**2``)."""
        ...


class _Transforms(ABC):
    """Turns 53-bit integers (from a subclass) into uniform, Gaussian and Laplace draws."""

    @abstractmethod
    def _bits53(self, n: int) -> np.ndarray:
        """``n`` independent uniform integers in [0, 2^53), as uint64."""

    def uniform(self, size: Size = ()) -> np.ndarray:
        shape = (size,) if isinstance(size, int) else tuple(size)
        n = int(np.prod(shape, dtype=np.int64))
        # Midpoints (k + 1/2) / 2**53 lie strictly inside (0, 1): no log(0) in the transforms.
        u = (self._bits53(n).astype(np.float64) + 0.5) / _TWO_POW_53
        return u.reshape(shape)

    def normal(self, size: Size = (), scale: float = 1.0) -> np.ndarray:
        shape = (size,) if isinstance(size, int) else tuple(size)
        n = int(np.prod(shape, dtype=np.int64))
        pairs = (n + 1) // 2
        u = self.uniform(2 * pairs)
        # Box–Muller, both outputs of each pair used. The smallest uniform (2**-54) caps |z|
        # at about 8.7 standard deviations, a truncation of probability ~1e-18.
        radius = np.sqrt(-2.0 * np.log(u[:pairs]))
        angle = 2.0 * np.pi * u[pairs:]
        z = np.concatenate([radius * np.cos(angle), radius * np.sin(angle)])[:n]
        return (scale * z).reshape(shape)

    def laplace(self, size: Size = (), scale: float = 1.0) -> np.ndarray:
        centred = self.uniform(size) - 0.5
        # Inverse CDF; |centred| < 1/2 strictly, so the log argument stays positive.
        return -scale * np.sign(centred) * np.log1p(-2.0 * np.abs(centred))


class SecureRandom(_Transforms):
    """Cryptographically secure source: every bit comes from the OS CSPRNG (``os.urandom``).

    The default of every mechanism in :mod:`medfed.privacy.dp`: noise an attacker could
    replay from a seed protects nothing.
    """

    def _bits53(self, n: int) -> np.ndarray:
        raw = np.frombuffer(os.urandom(8 * n), dtype=np.uint64)
        return raw >> np.uint64(11)

    def __repr__(self) -> str:
        return "SecureRandom()"


class SeededRandom(_Transforms):
    """Deterministic twin of :class:`SecureRandom` for tests and simulations. Not private."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._bitgen = np.random.PCG64(seed)

    def _bits53(self, n: int) -> np.ndarray:
        return self._bitgen.random_raw(n) >> np.uint64(11)

    def __repr__(self) -> str:
        return f"SeededRandom({self.seed!r})"
