"""What an audit finds (standard 5.5.1.4c), and how its report reads as text and JSON."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class FindingKind(enum.StrEnum):
    # The ledger itself; the party responsible is the notary, keeper of the record.
    UNREADABLE_ENTRY = "unreadable_entry"  # a stored row does not decode
    MISSING_ENTRY = "missing_entry"  # a sequence number is absent: an entry was deleted
    OUT_OF_ORDER = "out_of_order"  # stored after a later entry: entries were reordered
    DUPLICATE_SEQUENCE = "duplicate_sequence"  # two entries claim one sequence: an insertion
    RENUMBERED = "renumbered"  # stored at one sequence, hashed at another
    HASH_MISMATCH = "hash_mismatch"  # content or stored hash altered
    BROKEN_LINK = "broken_link"  # prev_hash is not the previous entry's hash
    REPLAYED_REQUEST = "replayed_request"  # one signed request recorded twice
    # One entry's submitting party.
    UNKNOWN_PARTY = "unknown_party"  # no key for the submitting party
    BAD_SIGNATURE = "bad_signature"  # the party's key does not verify the signature
    MALFORMED_ENTRY = "malformed_entry"  # the payload breaks its kind's schema
    UNASSIGNED_PARTY = "unassigned_party"  # acts in a task without a recorded role (5.5.1.4d)
    # A party's operation log, and its cross-check against the ledger.
    LOG_TAMPERED = "log_tampered"
    LOG_WRONG_PARTY = "log_wrong_party"  # a line written in another party's name
    LOG_TRUNCATED = "log_truncated"  # shorter than a LOG_ANCHOR entry says it was
    UPDATE_MISMATCH = "update_mismatch"  # logged update digest differs from the ROUND entry's
    UPDATE_NOT_RECORDED = "update_not_recorded"  # logged as sent, absent from the ledger
    UPDATE_NOT_LOGGED = "update_not_logged"  # in the ledger, never logged as sent
    UNCOVERED_DATA = "uncovered_data"  # trained on data no INPUT or live GRANT covers
    RECEIPT_MISMATCH = "receipt_mismatch"  # the ledger contradicts a notary's receipt
    FORGED_RECEIPT = "forged_receipt"  # a logged receipt the notary never signed


@dataclass(frozen=True)
class Finding:
    """One violation. ``sequence`` locates it in the ledger and ``line`` (1-based) in the
    responsible party's operation log, where they apply; ``party`` is who is responsible
    (None when the evidence cannot say)."""

    kind: FindingKind
    sequence: int | None
    party: str | None
    detail: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "sequence": self.sequence,
            "party": self.party,
            "detail": self.detail,
            "line": self.line,
        }


@dataclass(frozen=True)
class RoleRecord:
    """One party's role in one task, as the ledger's ROLE_ASSIGNED entries record it."""

    task_id: str
    party: str
    role: str
    sequence: int


@dataclass(frozen=True)
class AuditReport:
    """The outcome of :func:`~medfed.ledger.audit.audit`; ``ok`` when nothing was found."""

    suite: str
    entries: int
    logs: tuple[str, ...]
    findings: tuple[Finding, ...]
    roles: tuple[RoleRecord, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.findings

    def by_party(self) -> dict[str | None, list[Finding]]:
        grouped: dict[str | None, list[Finding]] = {}
        for finding in self.findings:
            grouped.setdefault(finding.party, []).append(finding)
        return grouped

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (``json.dumps(report.to_dict())``)."""
        return {
            "ok": self.ok,
            "suite": self.suite,
            "entries": self.entries,
            "logs": list(self.logs),
            "findings": [f.to_dict() for f in self.findings],
            "roles": [
                {"task_id": r.task_id, "party": r.party, "role": r.role, "sequence": r.sequence}
                for r in self.roles
            ],
        }


def render_text(report: AuditReport) -> str:
    """A plain-text report for a terminal: verdict, findings by party, roles per task."""
    logs = ", ".join(report.logs) if report.logs else "none"
    lines = [
        f"ledger audit ({report.suite}): {report.entries} entries, operation logs: {logs}",
        "result: CLEAN" if report.ok else f"result: {len(report.findings)} finding(s)",
    ]
    for party, findings in sorted(report.by_party().items(), key=lambda kv: kv[0] or ""):
        lines.append("")
        lines.append(f"responsible: {party or 'undetermined'}")
        for f in findings:
            where = [f"entry {f.sequence}"] if f.sequence is not None else []
            where += [f"log line {f.line}"] if f.line is not None else []
            place = f" [{', '.join(where)}]" if where else ""
            lines.append(f"  - {f.kind.value}{place}: {f.detail}")
    if report.roles:
        lines.append("")
        lines.append("roles per task (5.5.1.4d):")
        for r in sorted(report.roles, key=lambda r: (r.task_id, r.party, r.role)):
            lines.append(f"  {r.task_id}: {r.party} = {r.role} (entry {r.sequence})")
    return "\n".join(lines) + "\n"
