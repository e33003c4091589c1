"""The one interface every homomorphic scheme offers to federated aggregation.

A node encrypts a float vector into ciphertext chunks; the aggregator, holding only
the public half of the keys, adds chunk lists; a holder of the secret half decrypts
the sum. Chunking is the scheme's business, so a layer of any size fits (a layer
larger than one ciphertext's slot count is split, never refused).

Key material travels as bytes: ``public_bytes()`` for the aggregator,
``secret_bytes()`` for the parties that may decrypt. ``load_scheme`` rebuilds a
scheme from either, dispatching on the scheme name stored in the blob.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from medfed.errors import HEError

__all__ = ["HEError", "VectorScheme"]


class VectorScheme(ABC):
    """Additively homomorphic encryption of float64 vectors, chunked over ciphertexts."""

    name: str  # "paillier", "ckks", "bfv"

    @property
    @abstractmethod
    def can_decrypt(self) -> bool:
        """True when this instance holds the secret key."""

    @property
    @abstractmethod
    def max_addends(self) -> int:
        """How many encrypted vectors may be summed before precision or overflow is lost."""

    @abstractmethod
    def encrypt(self, vector: np.ndarray) -> list[bytes]:
        """Chunks of ciphertext for a 1-D float64 vector; refuses values beyond the
        scheme's documented bound with HEError (checked before encoding)."""

    @abstractmethod
    def add(self, vectors: Sequence[Sequence[bytes]]) -> list[bytes]:
        """The encrypted elementwise sum of several encrypted vectors (public key only).
        Refuses more than ``max_addends`` vectors, unequal chunk counts, or ciphertexts
        made under another key, with HEError."""

    @abstractmethod
    def decrypt(self, chunks: Sequence[bytes], size: int) -> np.ndarray:
        """float64 (size,): the plaintext of ``chunks``; HEError without the secret key."""

    @abstractmethod
    def public_bytes(self) -> bytes:
        """Key material for the aggregator: enough to add, not to decrypt."""

    @abstractmethod
    def secret_bytes(self) -> bytes:
        """Key material for a decrypting party; HEError if this instance has none."""
