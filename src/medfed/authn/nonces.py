"""A replay guard: each nonce is accepted once within its window."""

from __future__ import annotations

from medfed.authn.memory import InMemoryAuthStore
from medfed.authn.store import AuthStore
from medfed.errors import ConfigError


class NonceCache:
    """Remembers nonces for ``window_s`` seconds in an :class:`AuthStore`.

    The window must be at least as long as anything signed over the nonce stays acceptable
    (a pending challenge's ``ttl_s``), or a nonce could be forgotten while still usable.
    ``namespace`` keeps the nonces of different protocols sharing one store apart.
    """

    def __init__(
        self,
        store: AuthStore | None = None,
        *,
        window_s: float = 600.0,
        namespace: str = "challenge",
    ) -> None:
        if window_s <= 0:
            raise ConfigError(f"a nonce window must be positive, not {window_s}")
        self._store = store if store is not None else InMemoryAuthStore()
        self._window_s = window_s
        self._prefix = namespace.encode() + b"\x00"

    @property
    def window_s(self) -> float:
        return self._window_s

    def remember(self, nonce: bytes, *, now: float) -> bool:
        """True the first time ``nonce`` is seen within the window, False on a replay."""
        return self._store.add_nonce(self._prefix + nonce, now=now, expires_at=now + self._window_s)
