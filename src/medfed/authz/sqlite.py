"""The SQLite :class:`AuthzStore`: one file, schema created on open, parameterised SQL only.

Each record is kept whole as canonical JSON in ``body``; the other columns are copies of
the fields that lookups filter and sort on.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from medfed.authz._canonical import canonical_json, parse_json
from medfed.authz.algorithms import AlgorithmApproval, AlgorithmPackage
from medfed.authz.grants import Application, ApplicationStatus, Grant, Revocation
from medfed.authz.store import AuthzStore, check_decision
from medfed.errors import ConfigError

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS applications (
    application_id TEXT PRIMARY KEY,
    task_id TEXT NOT NULL,
    hospital TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS applications_by_task ON applications (task_id, hospital);
CREATE TABLE IF NOT EXISTS grants (
    grant_id TEXT PRIMARY KEY,
    task_id TEXT NOT NULL,
    hospital TEXT NOT NULL,
    issued_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS grants_by_task ON grants (task_id, hospital);
CREATE TABLE IF NOT EXISTS revocations (
    grant_id TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS packages (
    algorithm_id TEXT NOT NULL,
    version TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (algorithm_id, version)
);
CREATE TABLE IF NOT EXISTS approvals (
    hospital TEXT NOT NULL,
    algorithm_hash TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (hospital, algorithm_hash)
);
"""


def _where(filters: dict[str, object]) -> tuple[str, list[object]]:
    """A WHERE clause over fixed column names (never input) with their values as parameters."""
    used = {column: value for column, value in filters.items() if value is not None}
    if not used:
        return "", []
    return " WHERE " + " AND ".join(f"{c} = ?" for c in used), list(used.values())


class SqliteAuthzStore(AuthzStore):
    """An :class:`AuthzStore` in one SQLite file (``":memory:"`` for a private database).

    A decision runs in a ``BEGIN IMMEDIATE`` transaction, so two processes sharing the
    file cannot both decide one application.
    """

    def __init__(self, path: str | Path) -> None:
        try:
            # Autocommit mode: transactions are opened explicitly where they matter.
            self._db = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=10.0
            )
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open authorization store {path}: {exc}") from None
        self._lock = threading.Lock()
        if version not in (0, _SCHEMA_VERSION):
            self._db.close()
            raise ConfigError(
                f"authorization store {path} has schema version {version}; "
                f"this medfed reads version {_SCHEMA_VERSION}"
            )
        # One transaction for the whole schema: one sync to disk, not one per statement.
        self._db.executescript(
            f"BEGIN; {_SCHEMA} PRAGMA user_version = {_SCHEMA_VERSION}; COMMIT;"  # constants only
        )

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

    def _bodies(self, sql: str, params: list[object]) -> list[dict[str, object]]:
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [parse_json(row[0], "stored authorization record") for row in rows]

    # -- data-use applications and grants ---------------------------------------------

    def add_application(self, application: Application) -> None:
        r = application.request
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO applications (application_id, task_id, hospital, status, "
                    "created_at, body) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        application.application_id,
                        r.task_id,
                        r.hospital,
                        application.status.value,
                        application.created_at,
                        canonical_json(application.to_dict()).decode(),
                    ),
                )
            except sqlite3.IntegrityError:
                raise ConfigError(
                    f"application {application.application_id} is already recorded"
                ) from None

    def get_application(self, application_id: str) -> Application | None:
        found = self._bodies(
            "SELECT body FROM applications WHERE application_id = ?", [application_id]
        )
        return Application.from_dict(found[0]) if found else None

    def list_applications(
        self,
        *,
        task_id: str | None = None,
        hospital: str | None = None,
        status: ApplicationStatus | None = None,
    ) -> list[Application]:
        where, params = _where(
            {"task_id": task_id, "hospital": hospital, "status": status and status.value}
        )
        sql = f"SELECT body FROM applications{where} ORDER BY created_at, application_id"
        return [Application.from_dict(b) for b in self._bodies(sql, params)]

    def record_decision(self, decided: Application, grant: Grant | None = None) -> bool:
        check_decision(decided, grant)
        with self._lock, self._immediate():
            cursor = self._db.execute(
                "UPDATE applications SET status = ?, body = ? "
                "WHERE application_id = ? AND status = ?",
                (
                    decided.status.value,
                    canonical_json(decided.to_dict()).decode(),
                    decided.application_id,
                    ApplicationStatus.PENDING.value,
                ),
            )
            if cursor.rowcount != 1:
                return False
            if grant is not None:
                try:
                    self._db.execute(
                        "INSERT INTO grants (grant_id, task_id, hospital, issued_at, body) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (
                            grant.grant_id,
                            grant.scope.task_id,
                            grant.scope.hospital,
                            grant.scope.issued_at,
                            grant.to_bytes().decode(),
                        ),
                    )
                except sqlite3.IntegrityError:  # rolls the decision back with it
                    raise ConfigError(f"grant {grant.grant_id} is already recorded") from None
            return True

    def get_grant(self, grant_id: str) -> Grant | None:
        found = self._bodies("SELECT body FROM grants WHERE grant_id = ?", [grant_id])
        return Grant.from_dict(found[0]) if found else None

    def list_grants(
        self, *, task_id: str | None = None, hospital: str | None = None
    ) -> list[Grant]:
        where, params = _where({"task_id": task_id, "hospital": hospital})
        sql = f"SELECT body FROM grants{where} ORDER BY issued_at, grant_id"
        return [Grant.from_dict(b) for b in self._bodies(sql, params)]

    def add_revocation(self, revocation: Revocation) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO revocations (grant_id, body) VALUES (?, ?)",
                (revocation.grant_id, canonical_json(revocation.to_dict()).decode()),
            )
            return cursor.rowcount == 1

    def get_revocation(self, grant_id: str) -> Revocation | None:
        found = self._bodies("SELECT body FROM revocations WHERE grant_id = ?", [grant_id])
        return Revocation.from_dict(found[0]) if found else None

    # -- algorithm registry -----------------------------------------------------------

    def add_package(self, package: AlgorithmPackage) -> bool:
        body = package.to_bytes().decode()
        with self._lock, self._immediate():
            row = self._db.execute(
                "SELECT body FROM packages WHERE algorithm_id = ? AND version = ?",
                (package.algorithm_id, package.version),
            ).fetchone()
            if row is not None:
                if row[0] == body:
                    return False
                raise ConfigError(
                    f"algorithm {package.algorithm_id} version {package.version} "
                    "is already published"
                )
            self._db.execute(
                "INSERT INTO packages (algorithm_id, version, code_hash, body) VALUES (?, ?, ?, ?)",
                (package.algorithm_id, package.version, package.code_hash, body),
            )
            return True

    def get_package(self, algorithm_id: str, version: str) -> AlgorithmPackage | None:
        found = self._bodies(
            "SELECT body FROM packages WHERE algorithm_id = ? AND version = ?",
            [algorithm_id, version],
        )
        return AlgorithmPackage.from_dict(found[0]) if found else None

    def list_packages(
        self, *, algorithm_id: str | None = None, code_hash: str | None = None
    ) -> list[AlgorithmPackage]:
        where, params = _where({"algorithm_id": algorithm_id, "code_hash": code_hash})
        sql = f"SELECT body FROM packages{where} ORDER BY algorithm_id, version"
        return [AlgorithmPackage.from_dict(b) for b in self._bodies(sql, params)]

    def add_approval(self, approval: AlgorithmApproval) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO approvals (hospital, algorithm_hash, body) VALUES (?, ?, ?)",
                (
                    approval.hospital,
                    approval.algorithm_hash,
                    canonical_json(approval.to_dict()).decode(),
                ),
            )

    def remove_approval(self, hospital: str, algorithm_hash: str) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM approvals WHERE hospital = ? AND algorithm_hash = ?",
                (hospital, algorithm_hash),
            )

    def list_approvals(self, *, hospital: str | None = None) -> list[AlgorithmApproval]:
        where, params = _where({"hospital": hospital})
        sql = f"SELECT body FROM approvals{where} ORDER BY hospital, algorithm_hash"
        return [AlgorithmApproval.from_dict(b) for b in self._bodies(sql, params)]

    def close(self) -> None:
        with self._lock:
            self._db.close()
