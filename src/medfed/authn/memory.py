"""The in-memory :class:`AuthStore`: for tests, simulation and a single-process service."""

from __future__ import annotations

import threading

from medfed.authn.store import AuthStore, LockoutPolicy, LockState, UserRecord, next_lock_state


class InMemoryAuthStore(AuthStore):
    """Dictionaries under one lock (a web server may call from several threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, UserRecord] = {}
        self._locks: dict[str, LockState] = {}
        self._revoked: dict[str, float] = {}
        self._nonces: dict[bytes, float] = {}

    def put_user(self, user: UserRecord) -> None:
        with self._lock:
            self._users[user.name] = user

    def get_user(self, name: str) -> UserRecord | None:
        with self._lock:
            return self._users.get(name)

    def delete_user(self, name: str) -> None:
        with self._lock:
            self._users.pop(name, None)

    def lock_state(self, name: str, *, now: float) -> LockState:
        with self._lock:
            state = self._locks.get(name)
        return state if state is not None and now < state.forget_at else LockState()

    def record_failure(self, name: str, *, now: float, policy: LockoutPolicy) -> LockState:
        with self._lock:
            new = next_lock_state(self._locks.get(name, LockState()), now=now, policy=policy)
            self._locks[name] = new
            return new

    def clear_failures(self, name: str) -> None:
        with self._lock:
            self._locks.pop(name, None)

    def revoke_token(self, token_id: str, *, expires_at: float) -> None:
        with self._lock:
            self._revoked[token_id] = max(expires_at, self._revoked.get(token_id, expires_at))

    def is_token_revoked(self, token_id: str) -> bool:
        with self._lock:
            return token_id in self._revoked

    def add_nonce(self, nonce: bytes, *, now: float, expires_at: float) -> bool:
        with self._lock:
            seen_until = self._nonces.get(nonce)
            if seen_until is not None and now < seen_until:
                return False
            self._nonces[nonce] = expires_at
            return True

    def prune(self, *, now: float) -> None:
        with self._lock:
            self._nonces = {k: t for k, t in self._nonces.items() if t > now}
            self._revoked = {k: t for k, t in self._revoked.items() if t > now}
            self._locks = {k: s for k, s in self._locks.items() if s.forget_at > now}

    def close(self) -> None:
        """Nothing to release: the dictionaries go with the object."""
