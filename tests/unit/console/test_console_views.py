"""The console's building blocks without a server: ledger verdict, run folders, exports."""

from __future__ import annotations

import sqlite3

import pytest

import medfed.console
from medfed.console.ledger_view import read_ledger
from medfed.console.reports import list_runs, run_folder, run_name
from medfed.console.study_context import load_context
from medfed.errors import ConfigError, IdentityError


def test_public_api():
    assert sorted(medfed.console.__all__) == [
        "Account", "Accounts", "ConsoleSettings", "create_app", "running_console", "serve_console", "tls_context",
    ]


@pytest.mark.clause("5.4.2.3i")
def test_ledger_verdict_names_a_tampered_entry(study, tmp_path):
    context = load_context(study.dispatcher)
    clean = read_ledger(study.root / "ledger.db", context)
    assert clean.verdict_ok and clean.rows and "CLEAN" in clean.verdict
    assert [r.sequence for r in clean.rows] == sorted((r.sequence for r in clean.rows), reverse=True)
    copy = tmp_path / "ledger.db"
    db = sqlite3.connect(copy)
    with sqlite3.connect(study.root / "ledger.db") as original:
        original.backup(db)  # includes what is still in the write-ahead log
    db.execute("DROP TRIGGER ledger_no_update")  # what someone with the file could do
    [(sequence,)] = db.execute("SELECT sequence FROM ledger WHERE payload LIKE '%hospital-a%'").fetchall()
    db.execute("UPDATE ledger SET payload = replace(payload, 'hospital-a', 'hospital-x') WHERE sequence = ?", (sequence,))
    db.commit()
    db.close()
    tampered = read_ledger(copy, context)
    assert not tampered.verdict_ok and f"entry {sequence}]" in tampered.verdict


def test_ledger_not_configured_or_empty_is_said_plainly(study, tmp_path):
    context = load_context(study.dispatcher)
    assert "--ledger" in read_ledger(None, context).verdict
    assert "no entries yet" in read_ledger(tmp_path / "absent.db", context).verdict


def test_the_console_refuses_a_kit_of_another_role(study):
    with pytest.raises(IdentityError, match="dispatcher's kit"):
        load_context(study.kits / "hospital-a")


def test_run_folders_stay_inside_the_root(tmp_path):
    root = tmp_path / "runs"
    (root / "task1" / "run").mkdir(parents=True)
    (root / "task1" / "run" / "report.html").write_text("<svg></svg>")
    (root / "task1" / "run" / "results.json").write_text(
        '{"study": {"id": "s"}, "mode": "simulation", "federated": {"auc": 0.9}, "centralized": {"auc": 0.91}}'
    )
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "report.html").write_text("secret")
    [run] = list_runs(root)
    assert (run.name, run.study, run.federated_auc, run.centralized_auc) == ("task1/run", "s", 0.9, 0.91)
    assert run_folder(root, "task1/run") == (root / "task1" / "run").resolve()
    assert run_name(root, root / "task1" / "run") == "task1/run"
    assert run_name(root, tmp_path / "outside") is None
    for name in ("../outside", "task1/../../outside", "/etc", "", "task1", ".hidden"):
        with pytest.raises(ConfigError):
            run_folder(root, name)
