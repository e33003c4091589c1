"""The people who use the console: password accounts with a role and, for a data owner, a party.

Passwords, roles and lockout live in the trust layer's :class:`SqliteAuthStore`; this
module adds one table to the same file mapping an account to the party it acts for (the
hospital whose data owner it is), since a role alone cannot say *which* hospital's
applications a data owner may decide.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from medfed.authn import Argon2Params, PasswordAuthenticator, SqliteAuthStore
from medfed.errors import ConfigError
from medfed.roles import Role

_PARTIES = "CREATE TABLE IF NOT EXISTS console_parties (name TEXT PRIMARY KEY, party TEXT NOT NULL)"
# Enrolment records no study; any non-empty label satisfies the authenticator.
_ENROL_STUDY = "medfed-console"


@dataclass(frozen=True)
class Account:
    """A console user: ``party`` is the study party they act for ("" if none)."""

    name: str
    role: Role
    party: str


class Accounts:
    """Accounts in one SQLite file (the ``--users`` database)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.store = SqliteAuthStore(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10.0)
            self._db.execute(_PARTIES)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the console's user database {path}: {exc}") from None

    def add(
        self,
        name: str,
        password: str,
        role: Role,
        *,
        party: str = "",
        params: Argon2Params | None = None,
    ) -> Account:
        """Create the account or replace its password, role and party.

        A data owner's account must name the hospital it speaks for.
        """
        name = name.strip()
        if not name or len(name) > 128 or any(c.isspace() for c in name):
            raise ConfigError("a user name must be 1 to 128 characters without spaces")
        if role is Role.DATA and not party:
            raise ConfigError("a data owner's account needs --party: the hospital whose data it owns")
        PasswordAuthenticator(self.store, study_id=_ENROL_STUDY, params=params).enrol(name, password, role)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO console_parties (name, party) VALUES (?, ?)", (name, party)
            )
        return Account(name, role, party)

    def get(self, name: str) -> Account | None:
        user = self.store.get_user(name)
        if user is None:
            return None
        with self._lock:
            row = self._db.execute("SELECT party FROM console_parties WHERE name = ?", (name,)).fetchone()
        return Account(user.name, user.role, row[0] if row else "")

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self.store.close()
