"""Hostile or absurd input is refused with a TaskError on every store, never a database error or a
crash, and a refusal changes nothing (5.4.3.2a, 5.4.3.2e)."""

from __future__ import annotations

from pathlib import Path

import pytest

from medfed.cli import main
from medfed.errors import ConfigError
from medfed.pki import CertificateAuthority
from medfed.scheduling import (
    NodeInfo,
    Scheduler,
    SqlTaskStore,
    Task,
    TaskError,
    TaskState,
    parse_study_text,
)

from .support import GOOD_RESULT, STUDY_TOML, spec

DEEP = 100_000  # far beyond the interpreter's recursion limit


def _deep_list(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth):
        value = [value]
    return value


def _held(scheduler: Scheduler, node: str = "n1") -> str:
    scheduler.heartbeat(node, capacity=2, load=0, datasets=[])
    task = scheduler.submit(spec("held"), "initiator")
    assert scheduler.next_for(node) is not None
    return task.task_id


# -- deeply nested input -------------------------------------------------------------------------


def test_a_deeply_nested_study_file_is_a_config_error_not_a_crash() -> None:
    text = "a = " + "[" * DEEP + "]" * DEEP
    with pytest.raises(ConfigError, match="too deeply"):
        parse_study_text(text)


@pytest.mark.clause("5.4.3.2a")
def test_a_deeply_nested_study_is_refused_at_submission(scheduler: Scheduler) -> None:
    deep = STUDY_TOML + "\n[extra]\nx = " + "[" * DEEP + "]" * DEEP + "\n"
    with pytest.raises(TaskError, match="malformed study file: .*too deeply"):
        scheduler.submit(spec("deep", study_toml=deep), "initiator")
    assert scheduler.list() == []


def test_the_cli_refuses_a_deeply_nested_study_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = tmp_path / "deep.toml"
    study.write_text("a = " + "[" * DEEP + "]" * DEEP, encoding="utf-8")
    ca = tmp_path / "ca.pem"
    ca.write_bytes(CertificateAuthority.create("breast-small").cert_pem)
    assert main(["task", "create", "--store", str(tmp_path / "t.db"), "--study", str(study), "--trusted-ca", str(ca)]) == 2
    err = capsys.readouterr().err
    assert "too deeply" in err and "Traceback" not in err


@pytest.mark.clause("5.4.3.2e")
def test_a_deeply_nested_result_fails_the_task_with_the_reason(scheduler: Scheduler) -> None:
    task_id = _held(scheduler)
    ended = scheduler.complete(task_id, "n1", {**GOOD_RESULT, "extra": _deep_list(DEEP)})
    assert ended.state is TaskState.FAILED and ended.result is None
    assert "result from n1 refused" in (ended.failure or "")
    assert scheduler.get(task_id).state is TaskState.FAILED


# -- NUL characters and huge numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [{"name": "x\x00y"}, {"family": "f\x00"}, {"dataset_ids": {"hospital-a": "d\x00"}}, {"bound_to": "n\x00"},
     {"study_toml": STUDY_TOML + "\n# \x00\n"}],
    ids=["name", "family", "dataset", "bound_to", "study"],
)
def test_nul_in_a_task_field_is_refused(scheduler: Scheduler, changes: dict[str, object]) -> None:
    with pytest.raises(TaskError, match="refused"):
        scheduler.submit(spec(**{"name": "t", **changes}), "initiator")
    assert scheduler.list() == []


def test_nul_in_submitter_ids_and_reasons_is_refused_and_changes_nothing(scheduler: Scheduler) -> None:
    with pytest.raises(TaskError, match="submitter must not contain NUL"):
        scheduler.submit(spec("t"), "ini\x00tiator")
    task_id = _held(scheduler)
    with pytest.raises(TaskError, match="not a task id"):
        scheduler.get("abc\x00")
    with pytest.raises(TaskError, match="NUL"):
        scheduler.fail(task_id, "n1", "bad\x00thing")
    with pytest.raises(TaskError, match="NUL"):
        scheduler.cancel(task_id, "dr\x00x")
    for call in (
        lambda: scheduler.progress(task_id, "n1\x00", 0.5),
        lambda: scheduler.complete(task_id, "n1\x00", GOOD_RESULT),
        lambda: scheduler.fail(task_id, "n1\x00", "why"),
        lambda: scheduler.next_for("n1\x00"),
        lambda: scheduler.heartbeat("n1\x00", capacity=1, load=0, datasets=[]),
        lambda: scheduler.heartbeat("n1\n", capacity=1, load=0, datasets=[]),
        lambda: scheduler.heartbeat("n1", capacity=1, load=0, datasets=["d\x00"]),
    ):
        with pytest.raises(TaskError, match="must be letters"):
            call()
    held = scheduler.get(task_id)
    assert (held.state, held.assigned_node, held.failure) == (TaskState.ASSIGNED, "n1", None)
    # The refused reason, once made printable, is recorded.
    assert scheduler.fail(task_id, "n1", "bad\\0thing", retry=False).state is TaskState.FAILED


@pytest.mark.parametrize(
    ("capacity", "load"), [(10**12, 0), (2**70, 0), (10_001, 0), (1, 1e300), (1, 10_001)]
)
def test_capacity_and_load_beyond_the_cap_are_refused(scheduler: Scheduler, capacity: int, load: float) -> None:
    with pytest.raises(TaskError, match=r"<= 10000"):
        scheduler.heartbeat("n1", capacity=capacity, load=load, datasets=[])
    assert scheduler.nodes() == []
    assert scheduler.heartbeat("n1", capacity=10_000, load=10_000, datasets=[]).capacity == 10_000


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_refusal_the_checks_missed_is_a_task_error(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store: SqlTaskStore = (
        SqlTaskStore(f"sqlite:///{tmp_path / 'tasks.db'}") if backend == "sqlite"
        else request.getfixturevalue("pg_schema")()
    )
    with pytest.raises(TaskError, match="refused a value"):
        store.put_node(NodeInfo("n1", 2**70, 0.0, (), 1.0))
    assert store.nodes() == []
    if backend == "postgresql":  # PostgreSQL text holds no NUL; SQLite's does
        task = Task("t1", spec("x\x00y"), TaskState.QUEUED, "initiator", None, 1.0, 1.0)
        with pytest.raises(TaskError, match="refused a value"):
            store.add(task)
        assert store.list() == []
    if backend == "sqlite":
        store.close()


def test_the_worker_command_refuses_a_huge_capacity_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "tasks.db"
    code = main(["task", "worker", "--store", str(store), "--node-id", "n1",
                 "--capacity", "99999999999999999999", "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "capacity must be an integer >= 0 and <= 10000" in err and "Traceback" not in err


# -- small things said right -----------------------------------------------------------------------


def test_an_unknown_role_asking_for_a_result_is_a_task_error(scheduler: Scheduler) -> None:
    task_id = _held(scheduler)
    with pytest.raises(TaskError, match="unknown role 'bogus'"):
        scheduler.result(task_id, "bogus")


def test_a_node_that_never_held_a_task_is_not_told_it_fell_silent(scheduler: Scheduler) -> None:
    task_id = _held(scheduler, "n1")
    with pytest.raises(TaskError) as refused:
        scheduler.progress(task_id, "stranger", 0.5)
    assert "assigned to n1, not stranger" in str(refused.value)
    assert "re-queued" not in str(refused.value) and "silent" not in str(refused.value)


def test_a_bare_string_of_datasets_is_refused(scheduler: Scheduler) -> None:
    with pytest.raises(TaskError, match="datasets must be a list"):
        scheduler.heartbeat("n1", capacity=1, load=0, datasets="abc")  # type: ignore[arg-type]
    assert scheduler.nodes() == []
