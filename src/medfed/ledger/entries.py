"""Ledger entries: what a party asks the notary to record, and what the notary stores.

A party signs an :class:`EntryRequest`; the notary places it in the chain as a
:class:`LedgerEntry`. Two digests, both the suite's hash (SM3 under ``gm``, SHA-256 under
``intl``) over canonical JSON (sorted keys, no spaces, UTF-8):

* the **request digest** covers ``{schema: "medfed.ledger.request/1", task_id, kind, party,
  timestamp, payload}``; the party's signature is over these digest bytes;
* the **entry hash** covers every stored field except the hash and the signature:
  ``{schema: "medfed.ledger.entry/1", sequence, task_id, kind, party, timestamp, payload,
  prev_hash}``. Each entry's ``prev_hash`` is the previous entry's hash, the first one's is
  all zeros.

The party signs the request rather than the entry hash so that it need not know the
ledger's head: many nodes can submit at once without racing for a sequence number. The
chain is then the notary's word, made checkable by the signed receipts parties keep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from medfed.crypto import Suite
from medfed.ledger._canonical import canonical_json, check_json, is_hex, parse_object
from medfed.ledger.errors import EntryRejectedError
from medfed.ledger.schema import EntryKind, check_payload

REQUEST_SCHEMA = "medfed.ledger.request/1"
ENTRY_SCHEMA = "medfed.ledger.entry/1"


def _text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise EntryRejectedError(f"{name} must be a non-empty string, not {value!r}")


def _kind(value: object) -> EntryKind:
    try:
        return EntryKind(str(value))  # a StrEnum member's str() is its value
    except ValueError:
        raise EntryRejectedError(f"unknown entry kind {value!r}") from None


def _time(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EntryRejectedError(f"timestamp must be finite seconds, not {value!r}")
    return float(value)


def _own_copy(payload: object) -> dict[str, Any]:
    """A private deep copy, so a caller mutating its dict later cannot change the entry."""
    if not isinstance(payload, dict):
        raise EntryRejectedError(f"payload must be a dict, not {type(payload).__name__}")
    check_json(payload)
    return parse_object(canonical_json(payload), "payload")


def request_digest(
    suite: Suite, *, task_id: str, kind: EntryKind, party: str, timestamp: float, payload: Any
) -> bytes:
    """The digest a submitting party signs (see the module docstring)."""
    body = {
        "schema": REQUEST_SCHEMA,
        "task_id": task_id,
        "kind": kind.value,
        "party": party,
        "timestamp": timestamp,
        "payload": payload,
    }
    return suite.digest(canonical_json(body))


@dataclass(frozen=True)
class EntryRequest:
    """What a party asks the notary to record; ``timestamp`` is Unix seconds from the caller.

    The payload is validated on construction (:func:`~medfed.ledger.schema.check_payload`)
    and copied; treat ``payload`` as read-only.
    """

    task_id: str
    kind: EntryKind
    party: str
    timestamp: float
    payload: dict[str, Any] = field(hash=False)

    def __post_init__(self) -> None:
        _text("task_id", self.task_id)
        _text("party", self.party)
        object.__setattr__(self, "kind", _kind(self.kind))
        object.__setattr__(self, "timestamp", _time(self.timestamp))
        object.__setattr__(self, "payload", _own_copy(self.payload))
        check_payload(self.kind, self.payload)

    def digest(self, suite: Suite) -> bytes:
        """The bytes the party signs."""
        return request_digest(
            suite,
            task_id=self.task_id,
            kind=self.kind,
            party=self.party,
            timestamp=self.timestamp,
            payload=self.payload,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "kind": self.kind.value,
            "party": self.party,
            "timestamp": self.timestamp,
            "payload": self.payload,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> EntryRequest:
        """Rebuild a request received over the wire; EntryRejectedError if malformed."""
        try:
            return cls(
                task_id=raw["task_id"],
                kind=raw["kind"],
                party=raw["party"],
                timestamp=raw["timestamp"],
                payload=raw["payload"],
            )
        except (KeyError, TypeError) as exc:
            raise EntryRejectedError(f"malformed entry request: missing {exc}") from None


@dataclass(frozen=True)
class LedgerEntry:
    """One stored, chained, signed entry. Treat ``payload`` as read-only.

    Construction checks only the shape of each field (a payload must be JSON); the policy
    checks of a request (schema, raw-data keys) are left to the notary and the audit, so
    that a stored entry which breaks them can still be read and reported.
    """

    sequence: int
    task_id: str
    kind: EntryKind
    party: str
    timestamp: float
    payload: dict[str, Any] = field(hash=False)
    prev_hash: str
    entry_hash: str
    signature: bytes

    def __post_init__(self) -> None:
        if isinstance(self.sequence, bool) or not isinstance(self.sequence, int):
            raise EntryRejectedError(f"sequence must be an integer, not {self.sequence!r}")
        if self.sequence < 0:
            raise EntryRejectedError(f"sequence must be >= 0, not {self.sequence}")
        _text("task_id", self.task_id)
        _text("party", self.party)
        object.__setattr__(self, "kind", _kind(self.kind))
        object.__setattr__(self, "timestamp", _time(self.timestamp))
        object.__setattr__(self, "payload", _own_copy(self.payload))
        for name in ("prev_hash", "entry_hash"):
            if not is_hex(getattr(self, name)):
                raise EntryRejectedError(f"{name} must be lowercase hex")
        if not isinstance(self.signature, bytes):
            raise EntryRejectedError("signature must be bytes")

    @classmethod
    def chain(
        cls,
        request: EntryRequest,
        signature: bytes,
        *,
        sequence: int,
        prev_hash: str,
        suite: Suite,
    ) -> LedgerEntry:
        """The entry that places ``request`` at ``sequence`` after ``prev_hash``."""
        unhashed = cls(
            sequence=sequence,
            task_id=request.task_id,
            kind=request.kind,
            party=request.party,
            timestamp=request.timestamp,
            payload=request.payload,
            prev_hash=prev_hash,
            entry_hash="00",
            signature=signature,
        )
        return unhashed.rehashed(suite)

    def body(self, *, sequence: int | None = None) -> bytes:
        """Canonical JSON of every field except ``entry_hash`` and ``signature``.

        ``sequence`` replaces the stored one: how an audit tells where a moved entry was
        first recorded.
        """
        return canonical_json(
            {
                "schema": ENTRY_SCHEMA,
                "sequence": self.sequence if sequence is None else sequence,
                "task_id": self.task_id,
                "kind": self.kind.value,
                "party": self.party,
                "timestamp": self.timestamp,
                "payload": self.payload,
                "prev_hash": self.prev_hash,
            }
        )

    def compute_hash(self, suite: Suite, *, sequence: int | None = None) -> str:
        """The hex hash this entry should carry (at ``sequence``, if given)."""
        return suite.digest(self.body(sequence=sequence)).hex()

    def rehashed(self, suite: Suite) -> LedgerEntry:
        """A copy whose ``entry_hash`` is recomputed (used when chaining)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values["entry_hash"] = self.compute_hash(suite)
        return LedgerEntry(**values)

    def request_digest(self, suite: Suite) -> bytes:
        """The digest the submitting party signed."""
        return request_digest(
            suite,
            task_id=self.task_id,
            kind=self.kind,
            party=self.party,
            timestamp=self.timestamp,
            payload=self.payload,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (signature as hex)."""
        return {
            "sequence": self.sequence,
            "task_id": self.task_id,
            "kind": self.kind.value,
            "party": self.party,
            "timestamp": self.timestamp,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "entry_hash": self.entry_hash,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LedgerEntry:
        """Inverse of :meth:`to_dict`; EntryRejectedError if malformed."""
        try:
            return cls(
                sequence=raw["sequence"],
                task_id=raw["task_id"],
                kind=raw["kind"],
                party=raw["party"],
                timestamp=raw["timestamp"],
                payload=raw["payload"],
                prev_hash=raw["prev_hash"],
                entry_hash=raw["entry_hash"],
                signature=bytes.fromhex(raw["signature"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EntryRejectedError(f"malformed ledger entry: {exc}") from None
