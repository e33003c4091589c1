"""What authentication remembers, behind one interface (STYLE principle 6).

Two backends share :class:`AuthStore` and one contract test suite: ``InMemoryAuthStore``
(tests, simulation) and ``SqliteAuthStore`` (a service that must survive a restart).
Every row but a user's carries its own expiry, so :meth:`AuthStore.prune` can drop what no
longer matters without knowing any policy. Times are Unix seconds from the caller's clock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from medfed.errors import ConfigError
from medfed.roles import Role


@dataclass(frozen=True)
class UserRecord:
    """A person who logs in with a password; ``password_hash`` is an argon2id PHC string."""

    name: str
    role: Role
    password_hash: str

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("a user needs a non-empty name")


@dataclass(frozen=True)
class LockState:
    """Consecutive failed logins of one name.

    ``locked_until`` is set once ``failures`` reached the policy's limit (the counter then
    starts again from zero); ``forget_at`` is when the whole row stops mattering.
    """

    failures: int = 0
    locked_until: float | None = None
    forget_at: float = 0.0

    def is_locked(self, now: float) -> bool:
        return self.locked_until is not None and now < self.locked_until


@dataclass(frozen=True)
class LockoutPolicy:
    """Lock a name for ``lock_s`` after ``max_failures`` failures, none ``reset_after_s`` apart."""

    max_failures: int = 5
    lock_s: float = 300.0
    reset_after_s: float = 900.0

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ConfigError(f"max_failures must be >= 1, not {self.max_failures}")
        if self.lock_s <= 0 or self.reset_after_s <= 0:
            raise ConfigError("lock_s and reset_after_s must be positive")


def next_lock_state(old: LockState, *, now: float, policy: LockoutPolicy) -> LockState:
    """The state after one more failure at ``now``; pure, so both backends agree exactly."""
    failures = old.failures
    if now >= old.forget_at:  # the earlier failures are too old to count
        failures = 0
    failures += 1
    if failures >= policy.max_failures:
        until = now + policy.lock_s
        return LockState(0, until, max(until, now + policy.reset_after_s))
    locked_until = old.locked_until if old.is_locked(now) else None
    return LockState(failures, locked_until, now + policy.reset_after_s)


class AuthStore(ABC):
    """Users, failed-login counters, revoked token ids and seen nonces."""

    @abstractmethod
    def put_user(self, user: UserRecord) -> None:
        """Add the user or replace the record of the same name."""

    @abstractmethod
    def get_user(self, name: str) -> UserRecord | None: ...

    @abstractmethod
    def delete_user(self, name: str) -> None:
        """Forget the user; a name that is absent is not an error."""

    @abstractmethod
    def lock_state(self, name: str, *, now: float) -> LockState:
        """The counters for ``name`` (any name, known or not); a cleared state once forgotten."""

    @abstractmethod
    def record_failure(self, name: str, *, now: float, policy: LockoutPolicy) -> LockState:
        """Count one failure atomically (:func:`next_lock_state`) and return the new state."""

    @abstractmethod
    def clear_failures(self, name: str) -> None: ...

    @abstractmethod
    def revoke_token(self, token_id: str, *, expires_at: float) -> None:
        """Remember ``token_id`` as revoked until the token would have expired anyway."""

    @abstractmethod
    def is_token_revoked(self, token_id: str) -> bool: ...

    @abstractmethod
    def add_nonce(self, nonce: bytes, *, now: float, expires_at: float) -> bool:
        """Remember ``nonce`` until ``expires_at``; False if it is already remembered and live."""

    @abstractmethod
    def prune(self, *, now: float) -> None:
        """Drop nonces, revocations and counters whose expiry is at or before ``now``."""

    @abstractmethod
    def close(self) -> None:
        """Release the backend's resources."""
