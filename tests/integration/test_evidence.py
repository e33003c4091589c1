"""Evidence of a real run: the notary's ledger and each hospital's own log, audited (5.5.1.4)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from medfed.ledger import EntryKind
from medfed.orchestration.audit_run import audit_path
from medfed.orchestration.processes import run_processes
from tests.integration.conftest import make_site


@pytest.fixture(scope="module")
def audited_run(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    medmnist_dir = request.getfixturevalue("medmnist_dir")
    site = make_site(tmp_path_factory.mktemp("evidence") / "site", medmnist_dir, rounds=2)
    run_processes(site.study, site.deployment().launch)
    return site.root


def _rows(ledger: Path) -> list[tuple]:
    with sqlite3.connect(ledger) as db:
        return db.execute("SELECT sequence, kind, party, payload FROM ledger ORDER BY sequence").fetchall()


@pytest.mark.slow
@pytest.mark.clause("5.5.1.4a", "5.5.1.4b", "5.5.1.4d", "5.4.2.3i")
def test_a_run_leaves_a_clean_audit_with_rounds_roles_and_result(audited_run: Path) -> None:
    report, text = audit_path(audited_run)
    assert report.ok, text
    ledger = next(audited_run.rglob("ledger.db"))
    rows = _rows(ledger)
    kinds = [r[1] for r in rows]
    assert kinds.count(EntryKind.ROLE_ASSIGNED.value) == 6 and kinds.count(EntryKind.ROUND.value) == 2
    assert kinds[-1] == EntryKind.RESULT.value
    for _, kind, _, payload in rows:
        body = json.loads(payload)
        if kind == EntryKind.ROUND.value:
            assert sorted(body["update_digests"]) == ["hospital-a", "hospital-b", "hospital-c"]
        assert "images" not in body and "labels" not in body
    logs = sorted(p.name for p in audited_run.rglob("*.operations.jsonl"))
    assert logs == [f"hospital-{x}.operations.jsonl" for x in "abc"]


@pytest.mark.slow
@pytest.mark.clause("5.5.1.4c")
def test_a_flipped_byte_in_the_ledger_is_found_and_located(audited_run: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(audited_run, copy)
    ledger = next(copy.rglob("ledger.db"))
    with sqlite3.connect(ledger) as db:
        db.execute("DROP TRIGGER ledger_no_update")  # what an intruder with file access could do
        payload = db.execute("SELECT payload FROM ledger WHERE sequence = 8").fetchone()[0]
        db.execute("UPDATE ledger SET payload = ? WHERE sequence = 8", (payload.replace("hospital-b", "hospital-x", 1),))
    report, text = audit_path(copy)
    assert not report.ok
    assert any(f.sequence == 8 for f in report.findings), text


@pytest.mark.slow
@pytest.mark.clause("5.5.1.4c")
def test_an_edited_hospital_log_is_found_and_blamed_on_that_hospital(audited_run: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(audited_run, copy)
    log = next(copy.rglob("hospital-b.operations.jsonl"))
    lines = log.read_text().splitlines()
    edited = [line.replace('"ok"', '"refused"', 1) if i == len(lines) - 1 else line for i, line in enumerate(lines)]
    assert edited != lines
    log.write_text("\n".join(edited) + "\n")
    report, text = audit_path(copy)
    assert not report.ok
    assert {f.party for f in report.findings} == {"hospital-b"}, text
