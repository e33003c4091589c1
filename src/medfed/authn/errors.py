"""Refusals of ``medfed.authn``: all are :class:`~medfed.errors.IdentityError`.

    IdentityError
    └── AuthenticationError    a credential was refused (code "authn")
        ├── AccountLockedError     too many failed passwords; retry after ``until``
        └── ReplayError            a nonce was seen before within its window

All three travel as code "authn": across a process boundary the peer learns only that it
was refused, never which check failed (the reason is in the local refusal log).
"""

from __future__ import annotations

from medfed.errors import IdentityError


class AuthenticationError(IdentityError):
    """A credential was refused: wrong, expired, revoked, replayed or for another party."""

    code = "authn"


class AccountLockedError(AuthenticationError):
    """The account is locked after repeated failures; ``until`` is when it opens (Unix s)."""

    def __init__(self, message: str, *, until: float) -> None:
        super().__init__(message)
        self.until = until


class ReplayError(AuthenticationError):
    """A nonce was presented a second time within its window."""
