"""The SQLite :class:`LedgerStore`: one file, one table, WAL journal, parameterised SQL only.

Each append is a single ``INSERT`` inside a ``BEGIN IMMEDIATE`` transaction that first
reads the head, so a crash mid-append leaves the whole entry or nothing, and two processes
sharing the file cannot both take one sequence number. Triggers refuse ``UPDATE`` and
``DELETE`` so that an accidental statement cannot rewrite history; someone who drops them
can, and the audit then reports what changed.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from medfed.errors import ConfigError
from medfed.ledger.entries import LedgerEntry
from medfed.ledger.errors import LedgerConflictError
from medfed.ledger.store import COLUMNS, LedgerStore, Unreadable, check_append, from_row, to_row

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    sequence INTEGER PRIMARY KEY,
    task_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    party TEXT NOT NULL,
    timestamp REAL NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS ledger_no_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
"""
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM ledger"  # constant column names, never input
_INSERT = f"INSERT INTO ledger ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_BATCH = 500  # rows per query while scanning: a long ledger is never loaded whole


class SqliteLedgerStore(LedgerStore):
    """A :class:`LedgerStore` in one SQLite file (``":memory:"`` for a private database)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            # Autocommit mode: the one write transaction is opened explicitly in append.
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a receipt is handed out only after the entry is on disk.
            self._db.execute("PRAGMA synchronous=FULL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open ledger store {self.path}: {exc}") from None
        if version not in (0, _SCHEMA_VERSION):
            self._db.close()
            raise ConfigError(
                f"ledger store {self.path} has schema version {version}; "
                f"this medfed reads version {_SCHEMA_VERSION}"
            )
        try:
            self._db.executescript(
                f"BEGIN; {_SCHEMA} PRAGMA user_version = {_SCHEMA_VERSION}; COMMIT;"  # constants
            )
        except sqlite3.Error as exc:
            self._db.close()
            raise ConfigError(f"cannot prepare ledger store {self.path}: {exc}") from None
        self._lock = threading.Lock()

    def append(self, entry: LedgerEntry) -> None:
        row = to_row(entry)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                head = self._db.execute(f"{_SELECT} ORDER BY sequence DESC LIMIT 1").fetchone()
                check_append(entry, None if head is None else from_row(head))
                self._db.execute(_INSERT, row)
            except sqlite3.IntegrityError:
                self._db.execute("ROLLBACK")
                raise LedgerConflictError(f"sequence {entry.sequence} is taken") from None
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, params: tuple[object, ...] = ()) -> LedgerEntry | Unreadable | None:
        with self._lock:
            row = self._db.execute(sql, params).fetchone()
        return None if row is None else from_row(row)

    def _read(self, sequence: int) -> LedgerEntry | Unreadable | None:
        return self._one(f"{_SELECT} WHERE sequence = ?", (sequence,))

    def _read_head(self) -> LedgerEntry | Unreadable | None:
        return self._one(f"{_SELECT} ORDER BY sequence DESC LIMIT 1")

    def scan(self) -> Iterator[LedgerEntry | Unreadable]:
        after: object = -1
        while True:
            with self._lock:
                rows = self._db.execute(
                    f"{_SELECT} WHERE sequence > ? ORDER BY sequence LIMIT ?", (after, _BATCH)
                ).fetchall()
            yield from (from_row(row) for row in rows)
            if len(rows) < _BATCH:
                return
            after = rows[-1][0]

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM ledger").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
