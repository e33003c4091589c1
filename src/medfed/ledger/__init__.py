"""Evidence: the notary's append-only, hash-chained, signed ledger, operation logs, and their audit.

Standard clauses: 5.4.2.3i (the notary records algorithm, inputs, process and results),
5.5.1.4a (every party keeps operation logs), 5.5.1.4b (results and related information as
evidence), 5.5.1.4c (audit, and trace the party that broke the agreement), 5.5.1.4d (each
party's role in each task).

* A party builds and signs requests with :class:`EntryBuilder` (kinds: :class:`EntryKind`,
  payload keys per kind in :mod:`medfed.ledger.schema`);
* the :class:`Notary` verifies and chains them into a :class:`LedgerStore`
  (:class:`InMemoryLedgerStore`, :class:`SqliteLedgerStore`, or :func:`open_store`) and
  returns a signed :class:`Receipt`;
* each party keeps an :class:`OperationLog`, with its receipts in it;
* :func:`audit` checks all of it and returns an :class:`AuditReport` of :class:`Finding`;
  :func:`render_text` and ``AuditReport.to_dict`` present it.
"""

from medfed.ledger.audit import audit
from medfed.ledger.backends import open_store
from medfed.ledger.builder import EntryBuilder, SignedRequest, sign_request
from medfed.ledger.entries import EntryRequest, LedgerEntry
from medfed.ledger.errors import (
    EntryRejectedError,
    LedgerConflictError,
    LedgerCorruptError,
    SubmissionRefusal,
    SubmissionRefusedError,
)
from medfed.ledger.findings import AuditReport, Finding, FindingKind, RoleRecord, render_text
from medfed.ledger.memory import InMemoryLedgerStore
from medfed.ledger.notary import Notary, Receipt
from medfed.ledger.oplog import (
    LogCheck,
    LogProblem,
    OpAction,
    OperationLog,
    OperationRecord,
    Outcome,
    verify_log,
)
from medfed.ledger.schema import DENIED_PAYLOAD_KEYS, EntryKind, GrantDecision
from medfed.ledger.sqlite import SqliteLedgerStore
from medfed.ledger.store import LedgerStore, Unreadable

__all__ = [
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
