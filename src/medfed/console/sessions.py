"""Console sessions: a password login becomes a short-lived signed token in a cookie.

The cookie holds a :class:`TokenService` token (``__Host-``, HttpOnly, Secure, SameSite=Strict), so a
session survives no restart and a logout revokes it in the authentication store. Each
session's CSRF token is a MAC of the token's id under a second key: a form posted from
another site can neither read nor forge it, and nothing needs storing per session.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from medfed.authn import AuthenticationError, PasswordAuthenticator, TokenService
from medfed.console.accounts import Account, Accounts
from medfed.console.settings import ConsoleSettings
from medfed.crypto import Suite

# "__Host-": the browser keeps it only if it is Secure, for Path=/ and with no Domain, so a
# neighbouring host or a plain-HTTP response cannot plant or overwrite it.
COOKIE = "__Host-medfed-session"
# Double-submit token that protects the login form itself; "__Secure-" as it lives on /login only.
LOGIN_COOKIE = "__Secure-medfed-login"
_CSRF_CONTEXT = b"medfed/console/csrf/v1|"


@dataclass(frozen=True)
class Session:
    """A logged-in user, as one request sees them."""

    account: Account
    token: str
    csrf: str
    expires_at: int


class Sessions:
    """Logs people in and out and recognises their cookie."""

    def __init__(
        self,
        settings: ConsoleSettings,
        accounts: Accounts,
        suite: Suite,
        *,
        study_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._accounts = accounts
        self._suite = suite
        self._clock = clock
        self._passwords = PasswordAuthenticator(
            accounts.store, study_id=study_id, params=settings.argon2, lockout=settings.lockout
        )
        # Fresh keys per process: a restart logs everyone out, which is the safe default.
        self._tokens = TokenService(
            suite, key=os.urandom(32), store=accounts.store, study_id=study_id, ttl_s=settings.session_ttl_s
        )
        self._csrf_key = os.urandom(32)

    def login(self, name: str, password: str) -> Session:
        """A new session, or :class:`AuthenticationError` (wrong password, locked, unknown)."""
        now = self._clock()
        principal = self._passwords.authenticate(name, password, now=now)
        token = self._tokens.issue(principal, now=now)
        session = self.resume(token)
        if session is None:  # the account vanished between the two reads
            raise AuthenticationError("invalid user name or password")
        return session

    def resume(self, token: str | None) -> Session | None:
        """The session a cookie carries, or None if it is absent, expired, revoked or forged."""
        if not token:
            return None
        try:
            claims = self._tokens.verify(token, now=self._clock())
        except AuthenticationError:
            return None
        account = self._accounts.get(claims.subject)
        # A deleted account or a changed role ends the session at once.
        if account is None or account.role is not claims.role:
            return None
        return Session(account, token, self._csrf(claims.token_id), claims.expires_at)

    def logout(self, session: Session) -> None:
        self._tokens.revoke(session.token, now=self._clock())

    def csrf_ok(self, session: Session, submitted: str | None) -> bool:
        return bool(submitted) and secrets.compare_digest(session.csrf, submitted or "")

    def _csrf(self, token_id: str) -> str:
        return self._suite.hmac(self._csrf_key, _CSRF_CONTEXT + token_id.encode()).hex()
