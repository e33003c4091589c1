"""Refusals of ``medfed.authz``: all are :class:`~medfed.errors.IdentityError`.

    IdentityError
    └── PermissionDeniedError      a role may not do an action (code "forbidden")
        ├── GrantError             no valid data-use grant covers the use (code "grant_refused")
        └── AlgorithmError         an algorithm package is refused (code "algorithm_refused")

Unlike a failed login, a refused authorization is told precisely (``reason``): the
initiator must learn that an application awaits the data owner, or that a grant expired,
to do anything about it. Nothing secret follows from the reason.
"""

from __future__ import annotations

import enum

from medfed.errors import IdentityError


class PermissionDeniedError(IdentityError):
    """A party's role does not permit the action it asked for."""

    code = "forbidden"


class GrantRefusal(enum.StrEnum):
    """Why a data use is not covered by a grant."""

    NO_GRANT = "no_grant"  # nothing was ever applied for or granted
    PENDING = "pending"  # an application awaits the data owner's decision
    DENIED = "denied"  # the data owner denied the application
    UNKNOWN_APPLICATION = "unknown_application"
    ALREADY_DECIDED = "already_decided"
    UNKNOWN_GRANT = "unknown_grant"
    WRONG_OWNER = "wrong_owner"  # a key other than the hospital's data owner's
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    REVOKED = "revoked"
    WRONG_TASK = "wrong_task"
    WRONG_HOSPITAL = "wrong_hospital"
    WRONG_DATASET = "wrong_dataset"
    WRONG_FINGERPRINT = "wrong_fingerprint"  # the dataset changed since the grant
    WRONG_ALGORITHM = "wrong_algorithm"
    WRONG_PURPOSE = "wrong_purpose"


class GrantError(PermissionDeniedError):
    """A data use is refused; ``reason`` says which check failed."""

    code = "grant_refused"

    def __init__(self, reason: GrantRefusal, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason


class AlgorithmRefusal(enum.StrEnum):
    """Why an algorithm package may not run (or may not be published)."""

    BAD_SIGNATURE = "bad_signature"
    ALTERED = "altered"  # the code does not hash to the signed code hash
    UNAPPROVED = "unapproved"  # the hospital's data owner has not approved this hash
    WRONG_SUITE = "wrong_suite"
    UNKNOWN = "unknown"
    VERSION_EXISTS = "version_exists"  # a published version is immutable


class AlgorithmError(PermissionDeniedError):
    """An algorithm package is refused; ``reason`` says which check failed."""

    code = "algorithm_refused"

    def __init__(self, reason: AlgorithmRefusal, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
