"""The audit report as a terminal and a machine read it (5.5.1.4c)."""

from __future__ import annotations

import json

import pytest

from medfed.ledger import FindingKind, InMemoryLedgerStore, audit, render_text

from .support import MemoryTamper, World, flip_hex, record_study

pytestmark = pytest.mark.clause("5.5.1.4c", "5.5.1.4d")


def test_clean_report_reads_clean_and_lists_roles(world: World) -> None:
    store = InMemoryLedgerStore()
    record_study(world, store)
    report = audit(store, world.keys, world.suite, local_logs=world.logs)
    text = render_text(report)
    assert "result: CLEAN" in text
    assert "task-1: hospital-a = data" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is True and data["entries"] == 15 and data["findings"] == []
    assert {
        "task_id": "task-1",
        "party": "dispatcher",
        "role": "dispatcher",
        "sequence": 2,
    } in data["roles"]


def test_findings_are_grouped_by_responsible_party_and_located(world: World) -> None:
    store = InMemoryLedgerStore()
    record_study(world, store)
    tamper = MemoryTamper(store)
    tamper.set(9, "signature", flip_hex(str(tamper.get(9, "signature")), 12))
    tamper.delete(6)
    report = audit(store, world.keys, world.suite)
    assert not report.ok
    grouped = report.by_party()
    assert [f.kind for f in grouped["hospital-a"]] == [FindingKind.BAD_SIGNATURE]
    assert [f.kind for f in grouped["notary"]] == [FindingKind.MISSING_ENTRY]
    text = render_text(report)
    assert "2 finding(s)" in text
    assert "responsible: hospital-a" in text and "bad_signature [entry 9]" in text
    assert "missing_entry [entry 6]" in text
    data = report.to_dict()
    assert data["ok"] is False
    assert {(f["kind"], f["sequence"], f["party"]) for f in data["findings"]} == {
        ("bad_signature", 9, "hospital-a"),
        ("missing_entry", 6, "notary"),
    }
