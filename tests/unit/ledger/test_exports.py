from __future__ import annotations

import medfed.ledger
from medfed.errors import DataIntegrityError, IdentityError, ProtocolError
from medfed.ledger import (
    EntryRejectedError,
    LedgerConflictError,
    LedgerCorruptError,
    SubmissionRefusedError,
)


def test_public_api_is_exactly_this() -> None:
    assert sorted(medfed.ledger.__all__) == sorted(
        [
            "DENIED_PAYLOAD_KEYS",
            "AuditReport",
            "EntryBuilder",
            "EntryKind",
            "EntryRejectedError",
            "EntryRequest",
            "Finding",
            "FindingKind",
            "GrantDecision",
            "InMemoryLedgerStore",
            "LedgerConflictError",
            "LedgerCorruptError",
            "LedgerEntry",
            "LedgerStore",
            "LogCheck",
            "LogProblem",
            "Notary",
            "OpAction",
            "OperationLog",
            "OperationRecord",
            "Outcome",
            "Receipt",
            "RoleRecord",
            "SignedRequest",
            "SqliteLedgerStore",
            "SubmissionRefusal",
            "SubmissionRefusedError",
            "Unreadable",
            "audit",
            "open_store",
            "render_text",
            "sign_request",
            "verify_log",
        ]
    )
    for name in medfed.ledger.__all__:
        obj = getattr(medfed.ledger, name)
        if hasattr(obj, "__module__"):
            assert obj.__module__.startswith("medfed.ledger.")


def test_refusals_sit_in_the_one_error_hierarchy() -> None:
    assert issubclass(EntryRejectedError, ProtocolError)
    assert issubclass(LedgerConflictError, ProtocolError)
    assert issubclass(SubmissionRefusedError, IdentityError)
    assert issubclass(LedgerCorruptError, DataIntegrityError)
