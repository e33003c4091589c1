"""Where the notary keeps its entries, behind one interface (STYLE principle 6).

Two backends share :class:`LedgerStore` and one contract test suite:
``InMemoryLedgerStore`` (tests, simulation) and ``SqliteLedgerStore`` (a notary that must
survive a restart). Both keep each entry as the same row of text columns
(:func:`to_row`), so what one stores the other would read identically, and a row altered
behind the store's back reads as an entry that fails the audit, or as :class:`Unreadable`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Self

from medfed.ledger._canonical import canonical_json
from medfed.ledger.entries import LedgerEntry
from medfed.ledger.errors import EntryRejectedError, LedgerConflictError, LedgerCorruptError

Row = tuple[int, str, str, str, float, str, str, str, str]
"""sequence, task_id, kind, party, timestamp, payload (canonical JSON), prev_hash,
entry_hash, signature (hex): the columns of the SQL table, in order."""

COLUMNS = (
    "sequence",
    "task_id",
    "kind",
    "party",
    "timestamp",
    "payload",
    "prev_hash",
    "entry_hash",
    "signature",
)


@dataclass(frozen=True)
class Unreadable:
    """A stored row that cannot be decoded into an entry; ``sequence`` locates it."""

    sequence: int
    reason: str


def to_row(entry: LedgerEntry) -> Row:
    return (
        entry.sequence,
        entry.task_id,
        entry.kind.value,
        entry.party,
        entry.timestamp,
        canonical_json(entry.payload).decode("utf-8"),
        entry.prev_hash,
        entry.entry_hash,
        entry.signature.hex(),
    )


def from_row(row: tuple[object, ...]) -> LedgerEntry | Unreadable:
    """Decode a row; anything that does not decode comes back as :class:`Unreadable`."""
    sequence = row[0] if isinstance(row[0], int) else -1
    try:
        payload = json.loads(row[5])  # type: ignore[arg-type]
        signature = bytes.fromhex(row[8])  # type: ignore[arg-type]
        raw = dict(zip(COLUMNS, row, strict=True))
        raw.update(payload=payload, signature=signature.hex())
        return LedgerEntry.from_dict(raw)
    except (ValueError, TypeError, EntryRejectedError) as exc:
        return Unreadable(sequence, str(exc))


def check_append(entry: LedgerEntry, head: LedgerEntry | Unreadable | None) -> None:
    """Refuse an entry that does not continue ``head``: shared so both backends refuse alike."""
    if head is None:
        if entry.sequence != 0 or set(entry.prev_hash) != {"0"}:
            raise LedgerConflictError(
                "the first entry must have sequence 0 and an all-zero prev_hash"
            )
        return
    if isinstance(head, Unreadable):
        raise LedgerCorruptError(head.sequence, head.reason)
    if entry.sequence != head.sequence + 1:
        raise LedgerConflictError(
            f"entry {entry.sequence} does not follow the head {head.sequence}"
        )
    if entry.prev_hash != head.entry_hash:
        raise LedgerConflictError(
            f"entry {entry.sequence} does not chain to the head's hash {head.entry_hash}"
        )


def _entry(item: LedgerEntry | Unreadable | None) -> LedgerEntry | None:
    if isinstance(item, Unreadable):
        raise LedgerCorruptError(item.sequence, item.reason)
    return item


class LedgerStore(ABC):
    """An append-only sequence of :class:`LedgerEntry`, numbered from 0.

    There is deliberately no update or delete: the API cannot rewrite history, and the
    audit detects a history rewritten beneath it.
    """

    @abstractmethod
    def append(self, entry: LedgerEntry) -> None:
        """Store ``entry`` as the new head, atomically (all of it or nothing).

        LedgerConflictError unless ``entry.sequence`` is the head's plus one (0 for the first)
        and ``entry.prev_hash`` is the head's ``entry_hash`` (all zeros for the first);
        LedgerCorruptError if the head itself is unreadable.
        """

    @abstractmethod
    def _read(self, sequence: int) -> LedgerEntry | Unreadable | None: ...

    @abstractmethod
    def _read_head(self) -> LedgerEntry | Unreadable | None: ...

    @abstractmethod
    def scan(self) -> Iterator[LedgerEntry | Unreadable]:
        """Every stored row in sequence order; undecodable rows come back as Unreadable."""

    @abstractmethod
    def __len__(self) -> int:
        """How many entries are stored."""

    def close(self) -> None:
        """Release resources (a no-op for the in-memory backend)."""
        return None

    def get(self, sequence: int) -> LedgerEntry | None:
        """The entry at ``sequence``, or None; LedgerCorruptError if its row is unreadable."""
        return _entry(self._read(sequence))

    def head(self) -> LedgerEntry | None:
        """The last entry, or None when empty; LedgerCorruptError if unreadable."""
        return _entry(self._read_head())

    def __iter__(self) -> Iterator[LedgerEntry]:
        """Entries in sequence order; LedgerCorruptError at the first unreadable row."""
        for item in self.scan():
            entry = _entry(item)
            assert entry is not None  # scan never yields None
            yield entry

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
