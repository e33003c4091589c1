"""Messages of vertical logistic regression, and their wire form.

Every message names its ``sender``, ``recipient``, ``iteration`` and ``kind``. Wire form is
``(header, arrays)``: a JSON-able dict and a dict of numpy arrays, so a dispatcher can relay
messages without understanding them. Ciphertexts stay bytes here (one fixed-length string
per value, uint8 (k, ciphertext_bytes) on the wire); the receiving party turns them into
numbers with its own public key, which checks them.

Kinds (``iteration`` is 0 for the key, the training step otherwise, ``iterations`` for
prediction):

* ``public_key``          arbiter → guest, hosts: ``n`` (the Paillier modulus)
* ``host_forward``        host → guest: [[u_h]] = Enc(X_h w_h) over the batch rows
* ``residual``            guest → hosts: [[4 d]] over the batch rows (see ``guest``)
* ``masked_gradient``     guest, host → arbiter: [[G + R]], one per weight
* ``decrypted_gradient``  arbiter → the same party: G + R as signed integers
* ``partial_score``       host → guest, prediction only: u_h = X_h w_h as float64
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from medfed.errors import ProtocolError

__all__ = [
    "DecryptedGradient",
    "HostForward",
    "MaskedGradient",
    "PartialScore",
    "PublicKeyMessage",
    "Residual",
    "VerticalMessage",
    "message_from_wire",
    "wire_size",
]

Header = dict[str, Any]
Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class VerticalMessage:
    """Fields common to every message."""

    kind: ClassVar[str] = ""
    sender: str
    recipient: str
    iteration: int

    def _header(self) -> Header:
        return {
            "kind": self.kind,
            "sender": self.sender,
            "recipient": self.recipient,
            "iteration": self.iteration,
        }

    def to_wire(self) -> tuple[Header, Arrays]:
        return self._header(), {}


@dataclass(frozen=True)
class PublicKeyMessage(VerticalMessage):
    """The arbiter's Paillier modulus ``n``."""

    kind: ClassVar[str] = "public_key"
    n: int

    def to_wire(self) -> tuple[Header, Arrays]:
        return {**self._header(), "n": format(self.n, "x")}, {}


@dataclass(frozen=True)
class EncryptedVector(VerticalMessage):
    """Ciphertexts (each ``ciphertext_bytes`` long) under the key whose fingerprint is given."""

    fingerprint: bytes
    ciphertexts: tuple[bytes, ...]

    def to_wire(self) -> tuple[Header, Arrays]:
        width = len(self.ciphertexts[0]) if self.ciphertexts else 0
        if any(len(c) != width for c in self.ciphertexts):
            raise ProtocolError("ciphertexts of one message must all have the same length")
        blob = np.frombuffer(b"".join(self.ciphertexts), dtype=np.uint8).reshape(
            len(self.ciphertexts), width
        )
        return {**self._header(), "fingerprint": self.fingerprint.hex()}, {"ciphertexts": blob}


@dataclass(frozen=True)
class HostForward(EncryptedVector):
    kind: ClassVar[str] = "host_forward"


@dataclass(frozen=True)
class Residual(EncryptedVector):
    kind: ClassVar[str] = "residual"


@dataclass(frozen=True)
class MaskedGradient(EncryptedVector):
    kind: ClassVar[str] = "masked_gradient"


@dataclass(frozen=True)
class DecryptedGradient(VerticalMessage):
    """Masked gradient numerators G + R (signed integers), in the order sent."""

    kind: ClassVar[str] = "decrypted_gradient"
    values: tuple[int, ...]

    def to_wire(self) -> tuple[Header, Arrays]:
        width = max((abs(v).bit_length() // 8 + 1 for v in self.values), default=1)
        blob = b"".join(v.to_bytes(width, "big", signed=True) for v in self.values)
        arr = np.frombuffer(blob, dtype=np.uint8).reshape(len(self.values), width)
        return self._header(), {"values": arr}


@dataclass(frozen=True, eq=False)
class PartialScore(VerticalMessage):
    """A host's plaintext partial scores u_h = X_h w_h, float64 (n,), for rows to predict."""

    kind: ClassVar[str] = "partial_score"
    scores: np.ndarray

    def to_wire(self) -> tuple[Header, Arrays]:
        return self._header(), {"scores": np.asarray(self.scores, dtype=np.float64)}


_KINDS: dict[str, type[VerticalMessage]] = {
    cls.kind: cls
    for cls in (
        PublicKeyMessage,
        HostForward,
        Residual,
        MaskedGradient,
        DecryptedGradient,
        PartialScore,
    )
}


def _array(arrays: Arrays, name: str, dtype: str, ndim: int) -> np.ndarray:
    a = arrays.get(name)
    if not isinstance(a, np.ndarray) or a.dtype != np.dtype(dtype) or a.ndim != ndim:
        raise ProtocolError(f"message needs {name!r} as a {ndim}-D {dtype} array")
    return a


def message_from_wire(header: Header, arrays: Arrays) -> VerticalMessage:
    """Rebuild a message from ``to_wire()``'s output; ProtocolError when malformed."""
    kind = header.get("kind")
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown vertical-LR message kind {header.get('kind')!r}")
    sender, recipient, iteration = (
        header.get("sender"),
        header.get("recipient"),
        header.get("iteration"),
    )
    if not (isinstance(sender, str) and isinstance(recipient, str) and type(iteration) is int):
        raise ProtocolError("message header needs sender, recipient (str) and iteration (int)")
    common = (sender, recipient, iteration)
    try:
        if cls is PublicKeyMessage:
            return PublicKeyMessage(*common, n=int(str(header["n"]), 16))
        if issubclass(cls, EncryptedVector):
            blob = _array(arrays, "ciphertexts", "uint8", 2)
            cts = tuple(bytes(row) for row in blob)
            fingerprint = bytes.fromhex(str(header["fingerprint"]))
            return cls(*common, fingerprint=fingerprint, ciphertexts=cts)
        if cls is DecryptedGradient:
            blob = _array(arrays, "values", "uint8", 2)
            values = tuple(int.from_bytes(bytes(row), "big", signed=True) for row in blob)
            return DecryptedGradient(*common, values=values)
        return PartialScore(*common, scores=_array(arrays, "scores", "float64", 1).copy())
    except (KeyError, ValueError) as exc:
        raise ProtocolError(f"malformed {cls.kind} message: {exc}") from None


def wire_size(message: VerticalMessage) -> int:
    """Bytes the message takes on the wire: compact JSON header plus raw array bytes."""
    header, arrays = message.to_wire()
    return len(json.dumps(header, separators=(",", ":")).encode()) + sum(
        a.nbytes for a in arrays.values()
    )
