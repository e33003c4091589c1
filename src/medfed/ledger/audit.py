"""``audit``: verify the ledger and the parties' operation logs, and name who broke what (5.5.1.4c)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from medfed.crypto import Suite, VerifyKey
from medfed.ledger._chain import check_chain
from medfed.ledger._crosscheck import build_index, check_log, check_unlogged_updates
from medfed.ledger.entries import LedgerEntry
from medfed.ledger.findings import AuditReport, Finding, FindingKind
from medfed.ledger.oplog import LogCheck, LogSource, verify_log
from medfed.ledger.store import LedgerStore, Unreadable

_LOG_DEFECTS = frozenset(
    {FindingKind.LOG_TAMPERED, FindingKind.LOG_TRUNCATED, FindingKind.LOG_WRONG_PARTY}
)


def audit(
    ledger: LedgerStore | Iterable[LedgerEntry | Unreadable],
    party_keys: Mapping[str, VerifyKey],
    suite: Suite,
    *,
    local_logs: Mapping[str, LogSource] | None = None,
    notary_key: VerifyKey | None = None,
    notary: str = "notary",
) -> AuditReport:
    """Audit a ledger (a store, or entries in stored order) and, optionally, local logs.

    Checks, each finding located by ledger sequence and/or log line and naming the party
    responsible:

    * the hash chain: every entry's hash, its link to the previous one, gaps (deleted
      entries), duplicates (inserted ones), order, renumbering, unreadable rows;
    * every entry's signature under ``party_keys[entry.party]``, its payload schema, replays;
    * each party's role in each task (5.5.1.4d), reported in ``report.roles``;
    * with ``local_logs`` (party name → log path, :class:`OperationLog` or records): each
      log's own chain, and its submissions, updates and training against the ledger;
      with ``notary_key``, the receipts the logs hold are verified too.

    ``notary`` is the name the report gives the ledger's keeper. The audit itself never
    raises on bad evidence: everything wrong becomes a finding.
    """
    rows = ledger.scan() if isinstance(ledger, LedgerStore) else ledger
    chain = check_chain(rows, suite, party_keys, notary=notary)
    findings: list[Finding] = list(chain.findings)
    checked: dict[str, LogCheck] = {}
    if local_logs:
        index = build_index(chain.entries)
        intact: dict[str, LogCheck] = {}
        for party, source in sorted(local_logs.items()):
            checked[party] = verify_log(source, suite)
            found = check_log(party, checked[party], index, suite, notary_key, notary)
            findings.extend(found)
            if not any(f.kind in _LOG_DEFECTS for f in found):
                intact[party] = checked[party]
        # What a damaged log lacks proves nothing against others, so only intact logs
        # can show that a recorded update was never sent.
        findings.extend(check_unlogged_updates(index, intact))
    return AuditReport(
        suite=suite.name,
        entries=chain.count,
        logs=tuple(sorted(checked)),
        findings=tuple(findings),
        roles=chain.roles,
    )
