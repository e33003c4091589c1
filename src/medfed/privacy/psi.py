"""Private set intersection of patient IDs: ECDH-PSI over X25519, two parties, sans-IO.

Threat model: semi-honest parties. Each learns the intersection and the size of the other's
set, nothing else about the other's IDs.

Protocol (k_a, k_b: fresh secret scalars; H: ID → X25519 u-coordinate):

1. initiator → responder  ``PSIRequest``: k_a·H(x) for its IDs x, shuffled.
2. responder → initiator  ``PSIResponse``: k_b·(k_a·H(x)) in the order received, and
   k_b·H(y) for its IDs y, shuffled.
3. The initiator computes k_a·(k_b·H(y)); scalar multiplication commutes, so x is shared
   exactly when k_a·k_b·H(x) appears among those values.
4. initiator → responder  ``PSIResult``: the positions, in the responder's shuffled list,
   of the shared IDs; the responder maps them back to its own IDs.

Both sides then order the intersection by ID string (``sorted``), which is the common row
order for vertical training.

H is SHA-256 over a domain tag, the study ID and the patient ID (each length-prefixed) and a
counter. X25519 refuses inputs of small order (the result would be the identity); since
every X25519 scalar is a multiple of the cofactor, whether a point is refused does not depend
on the scalar, so both sides pick the same first counter whose point is accepted. A refused
point is a 2^-250 event; the counter makes it harmless rather than an error.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from medfed.errors import DataError, ProtocolError

__all__ = [
    "PSIInitiator",
    "PSIOutcome",
    "PSIRequest",
    "PSIResponder",
    "PSIResponse",
    "PSIResult",
    "hash_to_point",
    "psi_message_from_wire",
    "run_psi",
]

POINT_BYTES = 32
_DOMAIN = b"medfed-psi/x25519-sha256/v1"
_MAX_COUNTER = 64


def hash_to_point(study_id: str, patient_id: str, counter: int = 0) -> bytes:
    """The 32-byte X25519 u-coordinate H(study, ID, counter) (domain-separated SHA-256)."""
    h = hashlib.sha256(_DOMAIN)
    for field in (study_id.encode(), patient_id.encode()):
        h.update(len(field).to_bytes(4, "big") + field)
    h.update(counter.to_bytes(4, "big"))
    return h.digest()


def _blind_id(key: X25519PrivateKey, study_id: str, patient_id: str) -> bytes:
    for counter in range(_MAX_COUNTER):
        try:
            return key.exchange(
                X25519PublicKey.from_public_bytes(hash_to_point(study_id, patient_id, counter))
            )
        except ValueError:
            continue  # small-order point: re-hash (see the module docstring)
    raise DataError(f"could not hash a patient ID to a usable point in {_MAX_COUNTER} tries")


def _reblind(key: X25519PrivateKey, value: bytes) -> bytes:
    try:
        return key.exchange(X25519PublicKey.from_public_bytes(value))
    except ValueError:
        # Honest peers only ever send multiples of a prime-order point.
        raise ProtocolError("PSI peer sent a point of small order") from None


def _check_ids(ids: Sequence[str], who: str) -> tuple[str, ...]:
    ids = tuple(ids)
    if not ids:
        raise DataError(f"the {who}'s patient ID set is empty: nothing to intersect")
    if not all(isinstance(i, str) for i in ids):
        raise DataError(f"the {who}'s patient IDs must be strings")
    if len(set(ids)) != len(ids):
        raise DataError(f"the {who}'s patient IDs contain {len(ids) - len(set(ids))} duplicates")
    return ids


def _check_points(values: tuple[bytes, ...], what: str) -> None:
    if any(len(v) != POINT_BYTES for v in values):
        raise ProtocolError(f"PSI {what} must be {POINT_BYTES}-byte points")
    if len(set(values)) != len(values):
        raise ProtocolError(f"PSI {what} contain repeated points")


def _points_array(values: tuple[bytes, ...]) -> np.ndarray:
    return np.frombuffer(b"".join(values), dtype=np.uint8).reshape(len(values), POINT_BYTES)


def _points_from(arrays: dict[str, np.ndarray], name: str) -> tuple[bytes, ...]:
    a = arrays.get(name)
    if a is None or a.dtype != np.uint8 or a.ndim != 2 or a.shape[1] != POINT_BYTES:
        raise ProtocolError(f"PSI message needs {name!r} as uint8 (k, {POINT_BYTES})")
    return tuple(bytes(row) for row in a)


@dataclass(frozen=True)
class PSIRequest:
    """Initiator → responder: k_a·H(x) for each initiator ID, shuffled."""

    kind: ClassVar[str] = "psi_request"
    study_id: str
    blinded: tuple[bytes, ...]

    def to_wire(self) -> tuple[dict[str, object], dict[str, np.ndarray]]:
        return {"kind": self.kind, "study_id": self.study_id}, {
            "blinded": _points_array(self.blinded)
        }


@dataclass(frozen=True)
class PSIResponse:
    """Responder → initiator: ``double_blinded`` k_b·k_a·H(x) in the request's order, and
    ``blinded`` k_b·H(y) for each responder ID, shuffled."""

    kind: ClassVar[str] = "psi_response"
    study_id: str
    double_blinded: tuple[bytes, ...]
    blinded: tuple[bytes, ...]

    def to_wire(self) -> tuple[dict[str, object], dict[str, np.ndarray]]:
        arrays = {
            "double_blinded": _points_array(self.double_blinded),
            "blinded": _points_array(self.blinded),
        }
        return {"kind": self.kind, "study_id": self.study_id}, arrays


@dataclass(frozen=True)
class PSIResult:
    """Initiator → responder: positions in ``PSIResponse.blinded`` of the shared IDs, ascending."""

    kind: ClassVar[str] = "psi_result"
    study_id: str
    indices: tuple[int, ...]

    def to_wire(self) -> tuple[dict[str, object], dict[str, np.ndarray]]:
        header: dict[str, object] = {"kind": self.kind, "study_id": self.study_id}
        return header, {"indices": np.array(self.indices, dtype=np.int64)}


PSIMessage = PSIRequest | PSIResponse | PSIResult


def psi_message_from_wire(header: dict[str, object], arrays: dict[str, np.ndarray]) -> PSIMessage:
    """Rebuild a PSI message from its ``to_wire()`` form; ProtocolError if malformed."""
    kind, study_id = header.get("kind"), header.get("study_id")
    if not isinstance(study_id, str):
        raise ProtocolError("PSI message header has no study_id")
    if kind == PSIRequest.kind:
        return PSIRequest(study_id, _points_from(arrays, "blinded"))
    if kind == PSIResponse.kind:
        return PSIResponse(
            study_id, _points_from(arrays, "double_blinded"), _points_from(arrays, "blinded")
        )
    if kind == PSIResult.kind:
        idx = arrays.get("indices")
        if idx is None or idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise ProtocolError("PSI result needs 'indices' as a 1-D integer array")
        return PSIResult(study_id, tuple(int(i) for i in idx))
    raise ProtocolError(f"unknown PSI message kind {kind!r}")


class _Party:
    def __init__(self, ids: Sequence[str], *, study_id: str, who: str) -> None:
        self._ids = _check_ids(ids, who)
        self._study_id = study_id
        self._key = X25519PrivateKey.generate()
        self._who = who
        self._result: tuple[str, ...] | None = None

    def _check(self, message: object, expected: type, state: str, current: str) -> None:
        if not isinstance(message, expected):
            raise ProtocolError(
                f"PSI {self._who} expected {expected.__name__}, got {type(message).__name__}"
            )
        if current != state:
            raise ProtocolError(f"PSI {self._who} got {expected.__name__} in state {current!r}")
        if getattr(message, "study_id", None) != self._study_id:
            raise ProtocolError(f"PSI message belongs to another study, not {self._study_id!r}")

    @property
    def intersection(self) -> tuple[str, ...]:
        """The shared IDs, sorted; DataError when there are none."""
        if self._result is None:
            raise ProtocolError(f"PSI {self._who} has not finished")
        if not self._result:
            raise DataError(
                f"no patients in common between the parties of study {self._study_id!r}: "
                "check that both use the same patient ID scheme"
            )
        return self._result


class PSIInitiator(_Party):
    """The party that learns the intersection first and tells the responder."""

    def __init__(self, ids: Sequence[str], *, study_id: str) -> None:
        super().__init__(ids, study_id=study_id, who="initiator")
        self._state = "new"
        self._order: list[int] = []

    def start(self) -> list[PSIMessage]:
        """The request; call once."""
        if self._state != "new":
            raise ProtocolError("PSI initiator already started")
        self._order = list(range(len(self._ids)))
        secrets.SystemRandom().shuffle(self._order)  # hides the order of the IDs
        blinded = tuple(_blind_id(self._key, self._study_id, self._ids[i]) for i in self._order)
        self._state = "sent"
        return [PSIRequest(self._study_id, blinded)]

    def receive(self, message: PSIMessage) -> list[PSIMessage]:
        """Consume the response; return the result for the responder."""
        self._check(message, PSIResponse, "sent", self._state)
        assert isinstance(message, PSIResponse)
        if len(message.double_blinded) != len(self._ids):
            raise ProtocolError("PSI response does not answer every requested point")
        _check_points(message.double_blinded, "double-blinded values")
        _check_points(message.blinded, "responder points")
        theirs = {_reblind(self._key, v): pos for pos, v in enumerate(message.blinded)}
        shared, positions = [], []
        for sent_pos, value in enumerate(message.double_blinded):
            if value in theirs:
                shared.append(self._ids[self._order[sent_pos]])
                positions.append(theirs[value])
        self._result = tuple(sorted(shared))
        self._state = "done"
        return [PSIResult(self._study_id, tuple(sorted(positions)))]


class PSIResponder(_Party):
    """The party that answers the request and learns the intersection from the result."""

    def __init__(self, ids: Sequence[str], *, study_id: str) -> None:
        super().__init__(ids, study_id=study_id, who="responder")
        self._state = "new"
        self._sent: list[int] = []

    def receive(self, message: PSIMessage) -> list[PSIMessage]:
        """Answer a request (one response) or take the result (nothing to send)."""
        if isinstance(message, PSIResult):
            self._check(message, PSIResult, "responded", self._state)
            n = len(self._sent)
            if len(set(message.indices)) != len(message.indices) or any(
                not 0 <= i < n for i in message.indices
            ):
                raise ProtocolError("PSI result holds repeated or out-of-range positions")
            self._result = tuple(sorted(self._ids[self._sent[i]] for i in message.indices))
            self._state = "done"
            return []
        self._check(message, PSIRequest, "new", self._state)
        assert isinstance(message, PSIRequest)
        _check_points(message.blinded, "initiator points")
        self._sent = list(range(len(self._ids)))
        secrets.SystemRandom().shuffle(self._sent)
        mine = tuple(_blind_id(self._key, self._study_id, self._ids[i]) for i in self._sent)
        double = tuple(_reblind(self._key, v) for v in message.blinded)
        self._state = "responded"
        return [PSIResponse(self._study_id, double, mine)]


@dataclass(frozen=True)
class PSIOutcome:
    """``intersection``: the shared IDs, sorted; ``to_responder`` / ``to_initiator``: every
    message each side received, in order (for inspection)."""

    intersection: tuple[str, ...]
    to_responder: tuple[PSIMessage, ...]
    to_initiator: tuple[PSIMessage, ...]


def run_psi(
    initiator_ids: Sequence[str], responder_ids: Sequence[str], *, study_id: str
) -> PSIOutcome:
    """Run the protocol in memory; DataError on empty sets, duplicates or no shared ID."""
    initiator = PSIInitiator(initiator_ids, study_id=study_id)
    responder = PSIResponder(responder_ids, study_id=study_id)
    request = initiator.start()
    response = responder.receive(request[0])
    result = initiator.receive(response[0])
    responder.receive(result[0])
    if initiator.intersection != responder.intersection:  # DataError here if empty
        raise ProtocolError("PSI parties disagree on the intersection")
    return PSIOutcome(initiator.intersection, (*request, *result), tuple(response))
