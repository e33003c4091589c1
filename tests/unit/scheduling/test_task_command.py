"""`medfed task`: create, show, list, cancel, nodes and result from the command line (5.4.2.3c, 5.4.3.2a)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medfed.cli import main
from medfed.provision import provision_study
from medfed.scheduling import Scheduler, TaskState, open_task_store, parse_study_text

from .support import GOOD_RESULT, STUDY_TOML


@pytest.fixture(scope="module")
def kits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kits") / "kits"
    provision_study(parse_study_text(STUDY_TOML), out)
    return out


@pytest.fixture
def study_file(tmp_path: Path) -> Path:
    path = tmp_path / "breast.toml"
    path.write_text(STUDY_TOML, encoding="utf-8")
    return path


def _create(store: Path, study: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["task", "create", "--store", str(store), "--study", str(study), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.clause("5.4.2.3c", "5.4.3.2a")
def test_initiator_creates_a_task_and_views_its_configuration(
    tmp_path: Path, study_file: Path, kits: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "tasks.db"
    created = _create(
        store, study_file, "--kit", str(kits / "initiator"), "--kind", "cv_fold", "--priority", "5",
        "--dataset", "hospital-a=breast-a", "--family", "cv-1", "--param", "fold=0", "--param", "k=3",
        "--participants", "hospital-a,hospital-b", capsys=capsys,
    )
    assert created["submitter"] == "initiator" and created["state"] == "queued"
    assert created["spec"]["params"] == {"fold": 0, "k": 3}
    assert main(["task", "show", created["task_id"], "--store", str(store)]) == 0
    shown = capsys.readouterr().out
    for line in ("kind          cv_fold", "study         breast-small", "priority      5",
                 "datasets      hospital-a=breast-a", "family        cv-1", "state         queued",
                 "participants  hospital-a, hospital-b"):
        assert line in shown


def test_a_kit_of_another_role_cannot_create_tasks(
    tmp_path: Path, study_file: Path, kits: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "tasks.db"
    code = main(["task", "create", "--store", str(store), "--study", str(study_file), "--kit", str(kits / "hospital-a")])
    assert code == 2
    assert "tasks are created by the initiator" in capsys.readouterr().err
    assert main(["task", "list", "--store", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.clause("5.4.3.2a")
def test_a_bad_study_file_is_refused_with_the_reason(
    tmp_path: Path, kits: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(STUDY_TOML.replace('role = "dispatcher"', 'role = "boss"'), encoding="utf-8")
    store = tmp_path / "tasks.db"
    ca = ("--kit", str(kits / "initiator"))
    assert main(["task", "create", "--store", str(store), "--study", str(bad), *ca]) == 2
    err = capsys.readouterr().err
    assert "malformed study file" in err and "role 'boss'" in err
    assert main(["task", "create", "--store", str(store), "--study", str(tmp_path / "absent.toml"), *ca]) == 2
    assert "cannot read study file" in capsys.readouterr().err


@pytest.mark.clause("5.4.2.3g", "5.4.3.2b")
def test_assignment_nodes_and_result_for_the_result_party_only(
    tmp_path: Path, study_file: Path, kits: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_path = tmp_path / "tasks.db"
    ca = ("--kit", str(kits / "initiator"))
    created = _create(store_path, study_file, *ca, capsys=capsys)
    cancelled = _create(store_path, study_file, "--name", "to-cancel", *ca, capsys=capsys)
    assert main(["task", "cancel", cancelled["task_id"], "--store", str(store_path), "--by", "dr-x"]) == 0
    capsys.readouterr()
    # A node reports, takes the first task and finishes it (as `medfed task worker` does).
    store = open_task_store(store_path)
    scheduler = Scheduler(store)
    scheduler.heartbeat("node-7", capacity=2, load=0, datasets=["breast-a"])
    assert scheduler.next_for("node-7") is not None
    scheduler.complete(created["task_id"], "node-7", GOOD_RESULT)
    store.close()

    assert main(["task", "nodes", "--store", str(store_path)]) == 0
    nodes = capsys.readouterr().out
    assert "node-7" in nodes and "breast-a" in nodes
    assert main(["task", "list", "--store", str(store_path), "--state", "succeeded", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(t["task_id"], t["assigned_node"]) for t in listed] == [(created["task_id"], "node-7")]
    assert main(["task", "show", cancelled["task_id"], "--store", str(store_path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["state"], shown["failure"]) == (TaskState.CANCELLED.value, "cancelled by dr-x")

    for party in ("initiator", "hospital-a"):
        assert main(["task", "result", created["task_id"], "--store", str(store_path), "--kit", str(kits / party),
                     "--trusted-ca", str(kits / "ca" / "ca.pem")]) == 2
        assert "only the result party" in capsys.readouterr().err
    assert main(["task", "result", created["task_id"], "--store", str(store_path), "--kit", str(kits / "result"),
                 "--trusted-ca", str(kits / "ca" / "ca.pem")]) == 0
    assert json.loads(capsys.readouterr().out) == GOOD_RESULT


def test_worker_with_a_negative_capacity_is_refused_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "tasks.db"
    code = main(["task", "worker", "--store", str(store), "--node-id", "n1", "--capacity", "-2", "--out", str(tmp_path)])
    assert code == 2
    assert "capacity must be an integer >= 0" in capsys.readouterr().err
    assert main(["task", "nodes", "--store", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_an_unusable_store_is_refused(tmp_path: Path, study_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["task", "list", "--store", str(tmp_path / "missing" / "tasks.db")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["task", "list", "--store", "mysql://x"]) == 2
    assert "unknown task store scheme" in capsys.readouterr().err
