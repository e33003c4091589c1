"""What guest and hosts share: the arbiter's key, message checks, and the masked gradient.

Fixed point: features and partial scores carry ``frac_bits`` (F) fraction bits. The guest
sends [[D]] with D = 2^F·(u + 2 - 4y) = 2^(F+2)·d, so G_j = sum_i X_int[i, j]·D_i carries
2F + 2 fraction bits; a party divides by 2^(2F+2) and by the batch size after unmasking.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import numpy as np

from medfed.errors import HEError, ProtocolError
from medfed.privacy.he.paillier import PaillierPublicKey, decode_fixed, encode_fixed
from medfed.training.vertical.config import VerticalConfig, batch_rows
from medfed.training.vertical.messages import (
    DecryptedGradient,
    EncryptedVector,
    MaskedGradient,
    PublicKeyMessage,
    VerticalMessage,
)


class _GradientParty:
    """A data party that holds feature columns X (n, k) and its weights w (k,)."""

    def __init__(
        self,
        name: str,
        features: np.ndarray,
        *,
        arbiter: str,
        config: VerticalConfig,
        penalised: np.ndarray,
    ) -> None:
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0 or not np.isfinite(x).all():
            raise ProtocolError(f"party {name!r} needs finite features of shape (n, k) with n > 0")
        self.name = name
        self._x = x
        self._arbiter = arbiter
        self._config = config
        self._penalised = penalised
        self._w = np.zeros(x.shape[1])  # the same initial point as the plaintext twin
        # Columns as Python ints, encoded once: reused by every iteration's dot products.
        self._x_int = [
            encode_fixed(np.ascontiguousarray(x[:, j]), config.frac_bits) for j in range(x.shape[1])
        ]
        self._key: PaillierPublicKey | None = None
        self._t = 0
        self._mask: list[int] | None = None
        self.weight_changes: list[float] = []  # max |Δw| per iteration

    @property
    def done(self) -> bool:
        """True once every iteration's update is applied."""
        return self._t >= self._config.iterations

    @property
    def n_rows(self) -> int:
        return int(self._x.shape[0])

    def _rows(self) -> np.ndarray:
        return batch_rows(self.n_rows, self._config, self._t)

    def _expect(
        self, message: VerticalMessage, kind: type, senders: Sequence[str], iteration: int
    ) -> None:
        """ProtocolError unless the message is of ``kind``, from one of ``senders``, for
        ``iteration``, and addressed to this party."""
        if not isinstance(message, kind):
            raise ProtocolError(f"{self.name}: unexpected {message.kind!r} message in this state")
        if message.sender not in senders or message.recipient != self.name:
            raise ProtocolError(
                f"{self.name}: {message.kind!r} from {message.sender!r} is not expected"
            )
        if message.iteration != iteration:
            raise ProtocolError(
                f"{self.name}: {message.kind!r} for iteration {message.iteration}, expected {iteration}"
            )

    def _take_key(self, message: PublicKeyMessage) -> None:
        if self._key is not None:
            raise ProtocolError(f"{self.name}: the public key was already received")
        self._key = PaillierPublicKey(n=message.n)

    @property
    def key(self) -> PaillierPublicKey:
        if self._key is None:
            raise ProtocolError(f"{self.name}: no public key received yet")
        return self._key

    def _ciphertexts_in(self, message: EncryptedVector, count: int) -> list[int]:
        if message.fingerprint != self.key.fingerprint():
            raise HEError("ciphertexts were made under another key")
        if len(message.ciphertexts) != count:
            raise ProtocolError(
                f"{self.name}: {message.kind!r} holds {len(message.ciphertexts)} values, expected {count}"
            )
        return [self.key.ciphertext_from_bytes(c) for c in message.ciphertexts]

    def _ciphertexts_out(self, cts: Sequence[int]) -> tuple[bytes, ...]:
        return tuple(self.key.ciphertext_bytes(c) for c in cts)

    def _masked_gradient(self, residual: list[int], rows: np.ndarray) -> MaskedGradient:
        """[[G_j + R_j]] for every column j over the batch ``rows``; R_j fresh uniform."""
        key = self.key
        mask_bits = key.bits - self._config.mask_headroom_bits
        self._mask = [secrets.randbits(mask_bits) for _ in self._x_int]
        masked = [
            key.add_plain(key.dot(residual, [col[i] for i in rows]), r)
            for col, r in zip(self._x_int, self._mask, strict=True)
        ]
        return MaskedGradient(
            self.name,
            self._arbiter,
            self._t,
            fingerprint=key.fingerprint(),
            ciphertexts=self._ciphertexts_out(masked),
        )

    def _apply_gradient(self, message: DecryptedGradient, batch: int) -> None:
        """Remove the masks, scale to a mean gradient, add the L2 term and take the step."""
        assert self._mask is not None
        if len(message.values) != len(self._mask):
            raise ProtocolError(f"{self.name}: decrypted gradient has {len(message.values)} values")
        numerators = [v - r for v, r in zip(message.values, self._mask, strict=True)]
        limit = 1 << (self.key.bits - 2 * self._config.mask_headroom_bits)
        if any(abs(g) >= limit for g in numerators):
            raise HEError("gradient overflowed the plaintext space")
        grad = decode_fixed(numerators, 2 * self._config.frac_bits + 2) / batch
        grad = grad + self._config.l2 * self._w * self._penalised
        step = self._config.lr * grad
        self._w = self._w - step
        self.weight_changes.append(float(np.max(np.abs(step))))
        self._mask = None
        self._t += 1
