"""The SQLite :class:`AuthStore`: one file, schema created on open, parameterised SQL only."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from medfed.authn.store import AuthStore, LockoutPolicy, LockState, UserRecord, next_lock_state
from medfed.errors import ConfigError
from medfed.roles import Role

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lockouts (
    name TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    locked_until REAL,
    forget_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS revoked_tokens (
    token_id TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS nonces (
    nonce BLOB PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (expires_at);
"""


class SqliteAuthStore(AuthStore):
    """An :class:`AuthStore` in one SQLite file (``":memory:"`` for a private database).

    Read-modify-write steps run in ``BEGIN IMMEDIATE`` transactions, so two processes
    sharing the file cannot both miss a failed login or both accept one nonce.
    """

    def __init__(self, path: str | Path) -> None:
        try:
            # Autocommit mode: transactions are opened explicitly where they matter.
            self._db = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=10.0
            )
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open authentication store {path}: {exc}") from None
        self._lock = threading.Lock()
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, _SCHEMA_VERSION):
            self._db.close()
            raise ConfigError(
                f"authentication store {path} has schema version {version}; "
                f"this medfed reads version {_SCHEMA_VERSION}"
            )
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")  # a constant, not input

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        """One write transaction; the caller holds ``self._lock``."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def put_user(self, user: UserRecord) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO users (name, role, password_hash) VALUES (?, ?, ?)",
                (user.name, user.role.value, user.password_hash),
            )

    def get_user(self, name: str) -> UserRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT name, role, password_hash FROM users WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else UserRecord(row[0], Role(row[1]), row[2])

    def delete_user(self, name: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM users WHERE name = ?", (name,))

    def _read_lock(self, name: str) -> LockState:
        row = self._db.execute(
            "SELECT failures, locked_until, forget_at FROM lockouts WHERE name = ?", (name,)
        ).fetchone()
        return LockState() if row is None else LockState(row[0], row[1], row[2])

    def lock_state(self, name: str, *, now: float) -> LockState:
        with self._lock:
            state = self._read_lock(name)
        return state if now < state.forget_at else LockState()

    def record_failure(self, name: str, *, now: float, policy: LockoutPolicy) -> LockState:
        with self._lock, self._immediate():
            new = next_lock_state(self._read_lock(name), now=now, policy=policy)
            self._db.execute(
                "INSERT OR REPLACE INTO lockouts (name, failures, locked_until, forget_at) "
                "VALUES (?, ?, ?, ?)",
                (name, new.failures, new.locked_until, new.forget_at),
            )
        return new

    def clear_failures(self, name: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM lockouts WHERE name = ?", (name,))

    def revoke_token(self, token_id: str, *, expires_at: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO revoked_tokens (token_id, expires_at) VALUES (?, ?) "
                "ON CONFLICT (token_id) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)",
                (token_id, expires_at),
            )

    def is_token_revoked(self, token_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM revoked_tokens WHERE token_id = ?", (token_id,)
            ).fetchone()
        return row is not None

    def add_nonce(self, nonce: bytes, *, now: float, expires_at: float) -> bool:
        with self._lock, self._immediate():
            row = self._db.execute(
                "SELECT expires_at FROM nonces WHERE nonce = ?", (nonce,)
            ).fetchone()
            fresh = row is None or now >= row[0]
            if fresh:
                self._db.execute(
                    "INSERT OR REPLACE INTO nonces (nonce, expires_at) VALUES (?, ?)",
                    (nonce, expires_at),
                )
        return fresh

    def prune(self, *, now: float) -> None:
        with self._lock, self._immediate():
            self._db.execute("DELETE FROM nonces WHERE expires_at <= ?", (now,))
            self._db.execute("DELETE FROM revoked_tokens WHERE expires_at <= ?", (now,))
            self._db.execute("DELETE FROM lockouts WHERE forget_at <= ?", (now,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
