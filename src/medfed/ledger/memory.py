"""The in-memory :class:`LedgerStore`: for tests and simulations; lost when the process ends."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from medfed.ledger.entries import LedgerEntry
from medfed.ledger.store import LedgerStore, Row, Unreadable, check_append, from_row, to_row


class InMemoryLedgerStore(LedgerStore):
    """Rows keyed by sequence, held as the same text columns the SQL backend stores."""

    def __init__(self) -> None:
        self._rows: dict[int, Row] = {}
        self._lock = threading.Lock()

    def append(self, entry: LedgerEntry) -> None:
        row = to_row(entry)  # encode before taking the lock: a bad entry changes nothing
        with self._lock:
            check_append(entry, self._head_unlocked())
            self._rows[entry.sequence] = row

    def _head_unlocked(self) -> LedgerEntry | Unreadable | None:
        return from_row(self._rows[max(self._rows)]) if self._rows else None

    def _read(self, sequence: int) -> LedgerEntry | Unreadable | None:
        with self._lock:
            row = self._rows.get(sequence)
        return None if row is None else from_row(row)

    def _read_head(self) -> LedgerEntry | Unreadable | None:
        with self._lock:
            return self._head_unlocked()

    def scan(self) -> Iterator[LedgerEntry | Unreadable]:
        with self._lock:
            rows = [self._rows[s] for s in sorted(self._rows)]
        for row in rows:
            yield from_row(row)

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)
