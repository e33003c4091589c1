"""The notary's ledger on the console (5.4.2.3i): every entry and the chain's verdict.

The verdict is :func:`medfed.ledger.audit` over the whole store with the keys of the
dispatcher's kit, the same check ``medfed audit`` runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from medfed.console.study_context import StudyContext
from medfed.ledger import LedgerEntry, Unreadable, audit, open_store, render_text


@dataclass(frozen=True)
class EntryRow:
    sequence: int
    time: str
    task_id: str
    actor: str
    action: str
    digest: str


@dataclass(frozen=True)
class LedgerView:
    configured: bool
    rows: tuple[EntryRow, ...]
    unreadable: int
    verdict_ok: bool
    verdict: str  # render_text of the audit report


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def read_ledger(path: Path | None, context: StudyContext) -> LedgerView:
    """Every entry of the ledger at ``path`` (newest first) and the audit verdict."""
    if path is None:
        return LedgerView(False, (), 0, True, "no ledger is configured (start the console with --ledger)")
    if not path.is_file():
        return LedgerView(True, (), 0, True, f"the ledger {path} has no entries yet")
    store = open_store(path)
    try:
        items: list[LedgerEntry | Unreadable] = list(store.scan())
        report = audit(
            items, context.ledger_keys(), context.suite, notary=context.kit.name
        )
    finally:
        store.close()
    rows = tuple(
        EntryRow(e.sequence, _time(e.timestamp), e.task_id, e.party, e.kind.value, e.entry_hash)
        for e in reversed(items)
        if isinstance(e, LedgerEntry)
    )
    return LedgerView(True, rows, len(items) - len(rows), report.ok, render_text(report))
