"""Multiplicative depth: how many multiplications a ciphertext may still take (5.4.3.4-3).

A somewhat-homomorphic ciphertext survives only a bounded number of multiplications:
each CKKS multiplication spends one prime of the coefficient-modulus chain (rescaling), each
BFV multiplication spends most of one 60-bit prime's worth of noise budget. ``DepthBudget``
counts the levels spent and refuses, before anything is computed, an operation or a planned
sequence that would pass the limit. ``EncryptedVector`` carries a budget with the
ciphertext chunks, so a weighted aggregation (one plaintext multiplication, then additions)
runs and a second multiplication past the chain is refused with the operation named.

Each chunk travels as a fixed 45-byte header (``ChunkMeta``, index, count) followed by the
scheme's ciphertext, so an aggregator without keys can still refuse ciphertexts of another
key, vectors of another length or level, and sums of more than ``max_addends`` vectors.

The arithmetic itself belongs to the scheme (``VectorBackend``); this module only keeps the
books and knows nothing of TenSEAL.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from medfed.errors import HEError

__all__ = [
    "ChunkMeta",
    "DepthBudget",
    "EncryptedVector",
    "Operation",
    "VectorBackend",
    "pack_chunk",
    "unpack_chunk",
]


class Operation(StrEnum):
    """The homomorphic operations a budget prices."""

    ADD = "add"
    MUL_PLAIN = "mul_plain"  # times a plaintext scalar or vector
    MUL = "mul"  # times another ciphertext

    @property
    def levels(self) -> int:
        """Levels spent. Additions spend none: their noise is budgeted by max_addends."""
        return 0 if self is Operation.ADD else 1


@dataclass(frozen=True)
class DepthBudget:
    """``used`` of ``limit`` multiplicative levels spent; immutable, each spend returns a new one."""

    limit: int
    used: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.used <= self.limit:
            raise HEError(f"depth budget out of range: {self.used} of {self.limit} levels used")

    @property
    def levels_left(self) -> int:
        """Multiplications still allowed."""
        return self.limit - self.used

    def spend(self, operation: Operation | str) -> DepthBudget:
        """The budget after ``operation``; HEError naming it, the levels used and the limit if
        it does not fit (raised before the operation is attempted)."""
        operation = _operation(operation)
        cost = operation.levels
        if self.used + cost > self.limit:
            raise HEError(
                f"{operation} needs {cost} multiplicative level(s) but {self.used} of "
                f"{self.limit} are already used; generate keys with depth >= {self.used + cost} "
                "or multiply before encrypting"
            )
        return replace(self, used=self.used + cost)

    def plan(self, operations: Sequence[Operation | str]) -> DepthBudget:
        """The budget after the whole sequence, refusing it up front at the first operation
        that would exceed the limit."""
        budget = self
        for operation in operations:
            budget = budget.spend(operation)
        return budget

    def join(self, other: DepthBudget) -> DepthBudget:
        """The budget of a result combining two operands (the more spent one)."""
        if other.limit != self.limit:
            raise HEError("operands come from parameters of different depth")
        return replace(self, used=max(self.used, other.used))


def _operation(operation: Operation | str) -> Operation:
    try:
        return Operation(operation)
    except ValueError:
        raise HEError(f"unknown homomorphic operation {operation!r}") from None


# --- the wire format of one chunk: a fixed header, then the scheme's ciphertext -------------

_MAGIC = b"MFHE"
_VERSION = 1
_HEADER = struct.Struct(">4sB8sIIIHBBdd")


@dataclass(frozen=True)
class ChunkMeta:
    """What every chunk of one encrypted vector says about it.

    ``bound`` is the largest magnitude the plaintext may hold, in the scheme's plaintext
    units (CKKS: real values; BFV: fixed-point integers); it is derived from public
    parameters only, never from the data. ``scale_ratio`` (CKKS) is the true scale over the
    nominal one after rescaling; ``frac_bits`` (BFV) the fixed-point fraction bits.
    """

    fingerprint: bytes
    size: int
    addends: int
    levels_used: int
    frac_bits: int
    scale_ratio: float
    bound: float


def pack_chunk(meta: ChunkMeta, index: int, count: int, body: bytes) -> bytes:
    """Header + serialized TenSEAL vector."""
    return (
        _HEADER.pack(
            _MAGIC,
            _VERSION,
            meta.fingerprint,
            index,
            count,
            meta.size,
            meta.addends,
            meta.levels_used,
            meta.frac_bits,
            meta.scale_ratio,
            meta.bound,
        )
        + body
    )


def unpack_chunk(blob: bytes) -> tuple[ChunkMeta, int, int, bytes]:
    """(meta, index, count, TenSEAL body) of one chunk; HEError if it is not one."""
    if not isinstance(blob, bytes | bytearray) or len(blob) <= _HEADER.size:
        raise HEError("not a medfed ciphertext chunk")
    magic, version, fp, index, count, size, addends, levels, frac, ratio, bound = (
        _HEADER.unpack_from(blob)
    )
    if magic != _MAGIC or version != _VERSION or not 0 <= index < count:
        raise HEError("not a medfed ciphertext chunk")
    meta = ChunkMeta(fp, size, addends, levels, frac, ratio, bound)
    return meta, index, count, bytes(blob[_HEADER.size :])


class VectorBackend(Protocol):
    """The scheme-specific arithmetic behind ``EncryptedVector`` (CKKS or BFV)."""

    @property
    def max_addends(self) -> int: ...

    def _add_chunks(
        self, a: EncryptedVector, b: EncryptedVector
    ) -> tuple[list[Any], ChunkMeta]: ...

    def _mul_plain_chunks(
        self, a: EncryptedVector, factor: np.ndarray, levels_used: int
    ) -> tuple[list[Any], ChunkMeta]: ...

    def _mul_chunks(
        self, a: EncryptedVector, b: EncryptedVector, levels_used: int
    ) -> tuple[list[Any], ChunkMeta]: ...

    def _pack_chunks(self, a: EncryptedVector) -> list[bytes]: ...

    def _noise_budget(self, a: EncryptedVector) -> int | None: ...


class EncryptedVector:
    """One encrypted float vector of ``size`` values, held as ciphertext chunks, with the
    depth it has spent. Made by a scheme's ``encrypt_vector`` or ``open``."""

    def __init__(
        self, backend: VectorBackend, chunks: list[Any], meta: ChunkMeta, budget: DepthBudget
    ) -> None:
        self._backend = backend
        self.chunks = chunks
        self.meta: ChunkMeta = meta
        self.budget = budget

    @property
    def size(self) -> int:
        """Number of plaintext values."""
        return self.meta.size

    @property
    def addends(self) -> int:
        """How many freshly encrypted vectors were summed into this one."""
        return self.meta.addends

    @property
    def levels_used(self) -> int:
        return self.budget.used

    @property
    def levels_left(self) -> int:
        """Multiplications this ciphertext may still take."""
        return self.budget.levels_left

    @property
    def noise_budget_bits(self) -> int | None:
        """SEAL's remaining invariant noise budget in bits (BFV with the secret key), else None."""
        return self._backend._noise_budget(self)

    def add(self, other: EncryptedVector) -> EncryptedVector:
        """Elementwise sum; refuses another key, another length, a different multiplicative
        level, or more than ``max_addends`` fresh vectors in all."""
        self._check_operand(other, "add")
        if self.levels_used != other.levels_used:
            raise HEError(
                f"add needs operands at the same multiplicative level "
                f"({self.levels_used} vs {other.levels_used} levels used)"
            )
        if self.addends + other.addends > self._backend.max_addends:
            raise HEError(
                f"the sum would hold {self.addends + other.addends} vectors but these keys "
                f"allow at most {self._backend.max_addends}"
            )
        chunks, meta = self._backend._add_chunks(self, other)
        return EncryptedVector(self._backend, chunks, meta, self.budget.join(other.budget))

    def mul_plain(self, factor: float | np.ndarray) -> EncryptedVector:
        """Elementwise product with a plaintext scalar or (size,) vector; spends one level."""
        budget = self.budget.spend(Operation.MUL_PLAIN)
        values = np.asarray(factor, dtype=np.float64)
        if values.ndim == 0:
            values = np.full(self.size, float(values))
        if values.shape != (self.size,) or not np.all(np.isfinite(values)):
            raise HEError(f"mul_plain takes a finite scalar or a vector of {self.size} values")
        chunks, meta = self._backend._mul_plain_chunks(self, values, budget.used)
        return EncryptedVector(self._backend, chunks, meta, budget)

    def mul(self, other: EncryptedVector) -> EncryptedVector:
        """Elementwise product of two encrypted vectors; spends one level."""
        self._check_operand(other, "mul")
        if self.levels_used != other.levels_used:
            raise HEError(
                f"mul needs operands at the same multiplicative level "
                f"({self.levels_used} vs {other.levels_used} levels used)"
            )
        budget = self.budget.join(other.budget).spend(Operation.MUL)
        chunks, meta = self._backend._mul_chunks(self, other, budget.used)
        return EncryptedVector(self._backend, chunks, meta, budget)

    def to_chunks(self) -> list[bytes]:
        """The chunk bytes to send (header + serialized ciphertext each)."""
        return self._backend._pack_chunks(self)

    def _check_operand(self, other: EncryptedVector, operation: str) -> None:
        if other.meta.fingerprint != self.meta.fingerprint:
            raise HEError(f"{operation}: the operands were encrypted under different keys")
        if other.size != self.size:
            raise HEError(f"{operation}: vectors of {self.size} and {other.size} values")
