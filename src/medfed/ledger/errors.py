"""Refusals of ``medfed.ledger``, placed under the root hierarchy of :mod:`medfed.errors`.

    ProtocolError
    ├── EntryRejectedError     an entry request is malformed: a non-JSON payload, a key that
    │                          looks like raw data, a payload too large, a missing field
    └── LedgerConflictError    an append does not continue the chain (sequence taken or
                               skipped, previous hash not the head's)
    IdentityError
    └── SubmissionRefusedError the submitting party is not registered, or its signature
                               does not verify (``reason`` says which)
    DataIntegrityError
    └── LedgerCorruptError     a stored entry cannot be decoded at all

The classes keep their parent's ``code``, so a refusal that travels between processes is
rebuilt on the other side as the parent class by :func:`medfed.errors.from_code`.
"""

from __future__ import annotations

import enum

from medfed.errors import DataIntegrityError, IdentityError, ProtocolError


class EntryRejectedError(ProtocolError):
    """An entry request (or its payload) is malformed."""


class LedgerConflictError(ProtocolError):
    """An append does not continue the stored chain."""


class SubmissionRefusal(enum.StrEnum):
    """Why the notary refused a submission."""

    UNKNOWN_PARTY = "unknown_party"
    BAD_SIGNATURE = "bad_signature"


class SubmissionRefusedError(IdentityError):
    """The notary refused a submission; ``reason`` says which check failed."""

    def __init__(self, reason: SubmissionRefusal, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason


class LedgerCorruptError(DataIntegrityError):
    """A stored entry cannot be decoded; ``sequence`` locates it."""

    def __init__(self, sequence: int, message: str) -> None:
        super().__init__(f"ledger entry {sequence} is unreadable: {message}")
        self.sequence = sequence
