"""Who may use the inference service: bearer tokens for programs, passwords for people.

Both end in a token of :class:`medfed.authn.TokenService`: an API client sends it as
``Authorization: Bearer …``; the web page gets it, after a password login, in an
HttpOnly, Secure, SameSite=Strict cookie. The service's state folder holds the token key
(``token.key``, 0600) and the users and revoked tokens (``auth.db``, SQLite, 0600), so
``medfed serve token`` can mint tokens the running service accepts.

A password reset (:meth:`ServiceAuth.enrol`) ends every session of that user: ``auth.db``
also records, per user, the time before which their tokens no longer count.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from medfed.authn import (
    Argon2Params,
    Audit,
    AuthenticationError,
    Credential,
    PasswordAuthenticator,
    Principal,
    Reason,
    SqliteAuthStore,
    TokenClaims,
    TokenService,
)
from medfed.core.config import load_study
from medfed.crypto import Suite, get_suite
from medfed.deployment.serve.errors import ServiceConfigError
from medfed.pki import StartupKit
from medfed.pki._files import loose_permissions, write_private
from medfed.roles import Role

TOKEN_KEY_FILE = "token.key"
AUTH_DB_FILE = "auth.db"
STATE_DIR_NAME = "serve"
# Web users and API clients act for the result party: they consume the model's results.
SERVICE_ROLE = Role.RESULT
SESSION_TTL_S = 8 * 3600
DEFAULT_API_TTL_S = 3600
_KEY_BYTES = 32


def default_state_dir(kit: StartupKit) -> Path:
    """``<kit>/serve``: the token key belongs next to the identity that serves."""
    return kit.directory / STATE_DIR_NAME


def study_suite(kit: StartupKit) -> Suite:
    """The study's crypto suite (HMAC-SM3 under ``gm``), read from the kit's study file."""
    study_file = kit.directory / "study.toml"
    if not study_file.is_file():
        return get_suite("intl")
    return get_suite(load_study(study_file).security.suite.value)


def _token_key(state_dir: Path) -> bytes:
    """The service's token key, created on first use; refused if others can read it."""
    path = state_dir / TOKEN_KEY_FILE
    if not path.exists():
        write_private(path, secrets.token_bytes(_KEY_BYTES))
    mode = loose_permissions(path)
    if mode is not None:
        raise ServiceConfigError(f"token key {path} has mode {mode:o}; run `chmod 600 {path}`")
    key = path.read_bytes()
    if len(key) != _KEY_BYTES:
        raise ServiceConfigError(
            f"token key {path} is not {_KEY_BYTES} bytes; delete it to make a new one"
        )
    return key


def _open_store(state_dir: Path) -> SqliteAuthStore:
    path = state_dir / AUTH_DB_FILE
    if not path.exists():
        # Create it 0600 before SQLite opens it: it holds password hashes.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return SqliteAuthStore(path)


class _TokenCutoffs:
    """Per user, the Unix second before which their tokens are refused (bumped at a reset).

    Kept in its own table of ``auth.db`` so that a reset made by another process (the
    command line) reaches the running service at its next request.
    """

    def __init__(self, path: Path) -> None:
        try:
            self._db = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS token_cutoffs "
                "(name TEXT PRIMARY KEY, not_before INTEGER NOT NULL)"
            )
        except sqlite3.Error as exc:
            raise ServiceConfigError(
                f"cannot open the authentication store {path}: {exc}"
            ) from None
        self._lock = threading.Lock()

    def bump(self, name: str, not_before: int) -> None:
        """Refuse ``name``'s tokens issued before ``not_before``, and always any issued before
        this call: a token issued at the previous cutoff (see ``_issue_time``) must fall too."""
        with self._lock:
            self._db.execute(
                "INSERT INTO token_cutoffs (name, not_before) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET "
                "not_before = max(excluded.not_before, token_cutoffs.not_before + 1)",
                (name, not_before),
            )

    def not_before(self, name: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT not_before FROM token_cutoffs WHERE name = ?", (name,)
            ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass(frozen=True)
class AuthSettings:
    """How the service authenticates; ``argon2`` None means RFC 9106's default cost."""

    state_dir: Path
    study_id: str
    suite: Suite
    argon2: Argon2Params | None = None
    session_ttl_s: int = SESSION_TTL_S


class ServiceAuth:
    """Tokens and password logins of one service, backed by its state folder."""

    def __init__(self, settings: AuthSettings, *, clock: Callable[[], float] = time.time) -> None:
        try:
            settings.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ServiceConfigError(
                f"cannot create the state folder {settings.state_dir}: {exc}"
            ) from None
        self._settings = settings
        self._clock = clock
        self._key = _token_key(settings.state_dir)
        self._store = _open_store(settings.state_dir)
        self._cutoffs = _TokenCutoffs(settings.state_dir / AUTH_DB_FILE)
        self._audit = Audit()
        self._sessions = self._token_service(settings.session_ttl_s)
        self._passwords = PasswordAuthenticator(
            self._store, study_id=settings.study_id, params=settings.argon2, audit=self._audit
        )

    def _token_service(self, ttl_s: int) -> TokenService:
        return TokenService(
            self._settings.suite,
            key=self._key,
            store=self._store,
            study_id=self._settings.study_id,
            ttl_s=ttl_s,
            audit=self._audit,
        )

    @property
    def session_ttl_s(self) -> int:
        return self._settings.session_ttl_s

    def issue_api_token(self, subject: str, *, ttl_s: int = DEFAULT_API_TTL_S) -> str:
        """A bearer token for a program acting as ``subject``, valid ``ttl_s`` seconds."""
        principal = Principal(subject, SERVICE_ROLE, self._settings.study_id, Credential.TOKEN)
        return self._token_service(ttl_s).issue(principal, now=self._issue_time(subject))

    def enrol(self, name: str, password: str) -> None:
        """Create (or reset) a web user of the service; their existing tokens stop counting."""
        self._passwords.enrol(name, password, SERVICE_ROLE)
        # Tokens carry whole seconds: every token issued up to this second is refused.
        self._cutoffs.bump(name, int(self._clock()) + 1)

    def login(self, name: str, password: str) -> str:
        """A session token for a person whose password checks (AuthenticationError if not)."""
        principal = self._passwords.authenticate(name, password, now=self._clock())
        return self._sessions.issue(principal, now=self._issue_time(name))

    def verify(self, token: str) -> TokenClaims:
        """The claims of a live token of this service (AuthenticationError if not)."""
        now = self._clock()
        claims = self._sessions.verify(token, now=now)
        if claims.issued_at < self._cutoffs.not_before(claims.subject):
            raise self._audit.refuse(
                AuthenticationError("token was revoked by a password reset; log in again"),
                who=claims.subject,
                what=Credential.TOKEN,
                reason=Reason.REVOKED,
                when=now,
            )
        return claims

    def _issue_time(self, subject: str) -> float:
        """Now, or the user's cutoff when a reset happened within this very second, so that
        a login right after a reset yields a token that counts."""
        return max(self._clock(), float(self._cutoffs.not_before(subject)))

    def logout(self, token: str) -> None:
        """Refuse ``token`` from now on (AuthenticationError if it is not a token of ours)."""
        self._sessions.revoke(token, now=self._clock())

    def close(self) -> None:
        self._cutoffs.close()
        self._store.close()
