"""Fixed-point slots packed into Paillier plaintexts, and the chunk wire format.

A float x becomes the 64-bit slot word round(x · 2^f) + 2^(f+I) (offset encoding, so
negative values need no sign handling in the big integer), where f = ``frac_bits`` and
I = ``int_bits`` = 63 - f - ceil(log2(max_addends)). Each word is below 2^(f+I+1), so a
sum of up to ``max_addends`` words stays below 2^64 and never carries into the next slot;
decryption removes ``addends`` · 2^(f+I). Overflow bound: |x| < 2^I (checked after
rounding, before anything is packed). Slot i of a plaintext sits at bits [64i, 64i + 64);
a modulus of ``bits`` bits holds (bits - 1) // 64 slots so every plaintext is below n.

Chunk: ``version (1 byte) | key fingerprint (8) | addend count (uint32, big-endian) |
ciphertext (fixed length, big-endian)``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from medfed.errors import HEError

SLOT_BITS = 64  # one machine word per slot: packing is a byte copy, not a bit shuffle
_VERSION = 1
_HEADER = struct.Struct(">B8sI")
_WORD = np.dtype("<u8")


@dataclass(frozen=True)
class Layout:
    """Where the values of a vector sit inside Paillier plaintexts of ``modulus_bits`` bits."""

    modulus_bits: int
    frac_bits: int
    max_addends: int

    def __post_init__(self) -> None:
        for name in ("modulus_bits", "frac_bits", "max_addends"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise HEError(f"{name} must be an integer, not {value!r}")
        if not 1 <= self.max_addends < 2**32:
            raise HEError(f"max_addends must be in [1, 2**32), not {self.max_addends}")
        if self.frac_bits < 0:
            raise HEError(f"frac_bits must be non-negative, not {self.frac_bits}")
        if self.int_bits < 1:
            raise HEError(
                f"frac_bits={self.frac_bits} with max_addends={self.max_addends} leaves no "
                f"integer bits in a {SLOT_BITS}-bit slot; lower one of them"
            )

    @property
    def slots(self) -> int:
        """Values per ciphertext."""
        return (self.modulus_bits - 1) // SLOT_BITS

    @property
    def int_bits(self) -> int:
        """I: encodable values satisfy |x| < 2^I."""
        return SLOT_BITS - 1 - self.frac_bits - (self.max_addends - 1).bit_length()

    @property
    def bound(self) -> float:
        """The overflow bound 2^I: every encrypted value must have a smaller magnitude."""
        return 2.0**self.int_bits

    @property
    def _offset(self) -> int:
        return 1 << (self.frac_bits + self.int_bits)

    def pack(self, vector: np.ndarray) -> list[int]:
        """Plaintexts (each < 2^(64·slots)) for a 1-D float vector; HEError for a value that
        is not finite or whose magnitude reaches the bound."""
        x = np.asarray(vector, dtype=np.float64)
        if x.ndim != 1:
            raise HEError(f"expected a 1-D vector, got shape {x.shape}")
        if not np.isfinite(x).all():
            index = int(np.argmin(np.isfinite(x)))
            raise HEError(f"value {x[index]!r} at index {index} is not finite")
        with np.errstate(over="ignore"):  # an infinite product fails the bound check below
            scaled = np.rint(x * 2.0**self.frac_bits)  # scaling by a power of two is exact
        over = np.abs(scaled) >= 2.0 ** (self.frac_bits + self.int_bits)
        if over.any():
            index = int(np.argmax(over))
            raise HEError(
                f"value {x[index]!r} at index {index} is outside the packing bound "
                f"|x| < 2**{self.int_bits} = {self.bound:g} (frac_bits={self.frac_bits}, "
                f"max_addends={self.max_addends})"
            )
        words = np.full(-(-x.size // self.slots) * self.slots, self._offset, dtype=_WORD)
        # int64 → uint64 is two's complement, so adding the offset mod 2^64 is exact.
        words[: x.size] += scaled.astype(np.int64).view(np.uint64)
        buffer = memoryview(words.tobytes())
        width = self.slots * SLOT_BITS // 8
        return [
            int.from_bytes(buffer[i : i + width], "little") for i in range(0, len(buffer), width)
        ]

    def unpack(self, plaintexts: Sequence[int], addends: int, size: int) -> np.ndarray:
        """float64 (size,): the sum of ``addends`` packed vectors held in ``plaintexts``."""
        width = self.slots * SLOT_BITS // 8
        try:
            buffer = b"".join(int(m).to_bytes(width, "little") for m in plaintexts)
        except OverflowError:
            raise HEError("ciphertext does not decrypt to packed values") from None
        words = np.frombuffer(buffer, dtype=_WORD)[:size]
        # addends · offset ≤ 2^63 by the choice of int_bits; wrap-around undoes the offset.
        signed = (words - np.uint64(addends * self._offset)).view(np.int64)
        return signed.astype(np.float64) * 2.0**-self.frac_bits


def frame(fingerprint: bytes, addends: int, ciphertext: bytes) -> bytes:
    """One chunk: header then ciphertext."""
    return _HEADER.pack(_VERSION, fingerprint, addends) + ciphertext


def unframe(chunk: bytes, fingerprint: bytes, ciphertext_length: int) -> tuple[int, bytes]:
    """(addend count, ciphertext bytes) of a chunk made under the key ``fingerprint``."""
    if len(chunk) != _HEADER.size + ciphertext_length:
        raise HEError("ciphertext chunk has the wrong length for this key")
    version, owner, addends = _HEADER.unpack_from(chunk)
    if version != _VERSION:
        raise HEError("ciphertext chunk has an unknown format version")
    if owner != fingerprint:
        raise HEError("ciphertext chunk was made under another key")
    if addends < 1:
        raise HEError("ciphertext chunk has no addends")
    return addends, chunk[_HEADER.size :]
