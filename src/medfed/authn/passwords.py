"""Password login for people (clause 5.5.1.2b), with argon2id hashes and lockout.

An unknown name costs the same argon2 work as a wrong password (a dummy hash is verified)
and gets the same error, so timing and messages do not reveal which names exist. Failures
are counted for any name, known or not, for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from medfed.authn.audit import Audit, Credential, Reason
from medfed.authn.errors import AccountLockedError, AuthenticationError
from medfed.authn.principal import Principal
from medfed.authn.store import AuthStore, LockoutPolicy, UserRecord
from medfed.errors import ConfigError
from medfed.roles import Role

_REFUSED = "invalid user name or password"
_MAX_PASSWORD = 1024  # argon2 copes with more, but nobody types more; bounds the work


@dataclass(frozen=True)
class Argon2Params:
    """argon2id cost. The default is RFC 9106's second recommendation (t=3, 64 MiB, p=4)."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4
    hash_len: int = 32
    salt_len: int = 16

    def __post_init__(self) -> None:
        if self.time_cost < 1 or self.parallelism < 1:
            raise ConfigError("argon2 time_cost and parallelism must be >= 1")
        if self.memory_kib < 8 * self.parallelism:
            raise ConfigError("argon2 memory_kib must be at least 8 × parallelism")
        if self.hash_len < 16 or self.salt_len < 16:
            raise ConfigError("argon2 hash_len and salt_len must be at least 16 bytes")

    @classmethod
    def fast_insecure(cls) -> Argon2Params:
        """Minimal cost, for tests only: hashes in well under a millisecond."""
        return cls(time_cost=1, memory_kib=8, parallelism=1)

    def hasher(self) -> PasswordHasher:
        return PasswordHasher(
            time_cost=self.time_cost,
            memory_cost=self.memory_kib,
            parallelism=self.parallelism,
            hash_len=self.hash_len,
            salt_len=self.salt_len,
            type=Type.ID,
        )


class PasswordAuthenticator:
    """Enrols people with a password and role, and checks their logins."""

    def __init__(
        self,
        store: AuthStore,
        *,
        study_id: str,
        params: Argon2Params | None = None,
        lockout: LockoutPolicy | None = None,
        min_length: int = 12,
        audit: Audit | None = None,
    ) -> None:
        if not study_id:
            raise ConfigError("a password authenticator needs a study id")
        self._store = store
        self._study_id = study_id
        self._hasher = (params or Argon2Params()).hasher()
        self._lockout = lockout or LockoutPolicy()
        self._min_length = min_length
        self._audit = audit or Audit()
        # Verified for unknown names so they cost what a real check costs.
        self._dummy_hash = self._hasher.hash("medfed: no such user")

    def enrol(self, name: str, password: str, role: Role) -> None:
        """Create the user or replace their password and role."""
        if not self._min_length <= len(password) <= _MAX_PASSWORD:
            raise ConfigError(
                f"a password must have {self._min_length} to {_MAX_PASSWORD} characters"
            )
        self._store.put_user(UserRecord(name, role, self._hasher.hash(password)))
        self._store.clear_failures(name)

    def authenticate(self, name: str, password: str, *, now: float) -> Principal:
        """The user's principal, or an :class:`AuthenticationError` (logged).

        A locked name raises :class:`AccountLockedError` without checking the password,
        so guessing cannot continue during the cool-down.
        """
        state = self._store.lock_state(name, now=now)
        if state.is_locked(now):
            until = state.locked_until or now
            raise self._refuse(
                AccountLockedError(f"account {name!r} is locked; try again later", until=until),
                name,
                Reason.LOCKED,
                now,
            )
        user = self._store.get_user(name)
        if user is None:
            self._matches(self._dummy_hash, password)
            self._store.record_failure(name, now=now, policy=self._lockout)
            raise self._refuse(AuthenticationError(_REFUSED), name, Reason.UNKNOWN_USER, now)
        if len(password) > _MAX_PASSWORD or not self._matches(user.password_hash, password):
            self._store.record_failure(name, now=now, policy=self._lockout)
            raise self._refuse(AuthenticationError(_REFUSED), name, Reason.WRONG_PASSWORD, now)
        self._store.clear_failures(name)
        if self._hasher.check_needs_rehash(user.password_hash):
            # Parameters were raised since enrolment: upgrade while we hold the password.
            self._store.put_user(UserRecord(name, user.role, self._hasher.hash(password)))
        return Principal(name, user.role, self._study_id, Credential.PASSWORD)

    def _matches(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password[:_MAX_PASSWORD])
        except (VerificationError, InvalidHashError):
            return False

    def _refuse(
        self, error: AuthenticationError, name: str, reason: Reason, now: float
    ) -> AuthenticationError:
        return self._audit.refuse(
            error, who=name, what=Credential.PASSWORD, reason=reason, when=now
        )
