"""A node's TaskWorker runs real work from the queue and reports it (the documented workflow, 5.4.3.2c)."""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medfed.orchestration.task_worker import TaskWorker
from medfed.roles import Role
from medfed.scheduling import MemoryTaskStore, Scheduler, SqlTaskStore, Task, TaskState

from .support import spec

LEASE = 5.0


@pytest.fixture(scope="module")
def study_run(tmp_path_factory: pytest.TempPathFactory, medmnist_dir: Path) -> Iterator[dict[str, Any]]:
    """One small study (2 hospitals, 1 round, 100 records each) queued, taken and run by a worker,
    while another thread keeps reaping silent nodes with a 5 s lease."""
    root = tmp_path_factory.mktemp("worker")
    store = SqlTaskStore(f"sqlite:///{root / 'tasks.db'}")
    scheduler = Scheduler(store, lease_seconds=LEASE, max_attempts=1)
    worker = TaskWorker(
        scheduler, "node-1", capacity=1, datasets=["breastmnist"], data_dir=medmnist_dir, out_root=root / "runs"
    )
    worker.heartbeat()
    task = scheduler.submit(
        spec(
            "breast-1-round",
            dataset_ids={"hospital-a": "breastmnist", "hospital-b": "breastmnist"},
            params={"max_train": 100},
        ),
        "initiator",
    )
    progress: list[float] = []
    reaped: list[Task] = []
    stop = threading.Event()

    def watch() -> None:  # what a dispatcher does while the node works
        while not stop.wait(0.2):
            reaped.extend(scheduler.reap())
            progress.append(scheduler.get(task.task_id).progress)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        ended = worker.run_once()
    finally:
        stop.set()
        watcher.join()
    yield {"scheduler": scheduler, "task": task, "ended": ended, "progress": progress, "reaped": reaped,
           "worker": worker, "root": root}
    store.close()


@pytest.mark.slow
@pytest.mark.clause("5.4.3.2c", "5.4.2.3d", "5.4.3.2e")
def test_worker_runs_a_queued_study_end_to_end(study_run: dict[str, Any]) -> None:
    scheduler: Scheduler = study_run["scheduler"]
    ended: Task = study_run["ended"]
    assert ended is not None and ended.task_id == study_run["task"].task_id
    assert ended.state is TaskState.SUCCEEDED, ended.failure
    assert (ended.assigned_node, ended.attempts, ended.progress) == ("node-1", 1, 1.0)
    result = scheduler.result(ended.task_id, Role.RESULT)
    assert result["rounds"] == 1 and result["study_id"] == "breast-small"
    assert all(0.0 <= result["metrics"][m] <= 1.0 for m in ("auc", "ks", "accuracy"))
    run_dir = Path(result["run_dir"])
    on_disk = json.loads((run_dir / "results.json").read_text())
    assert on_disk["federated"]["auc"] == result["metrics"]["auc"]
    for name, digest in result["sha256"].items():
        assert hashlib.sha256((run_dir / name).read_bytes()).hexdigest() == digest
    # Progress was visible while it ran; the lease was kept alive throughout.
    assert any(0.0 < p < 1.0 for p in study_run["progress"])
    assert study_run["reaped"] == []


@pytest.mark.slow
@pytest.mark.clause("5.4.3.2c", "5.4.3.2e")
def test_worker_loop_evaluates_the_trained_model_and_matches_the_study(study_run: dict[str, Any]) -> None:
    scheduler: Scheduler = study_run["scheduler"]
    result = scheduler.result(study_run["ended"].task_id, Role.RESULT)
    model = str(Path(result["run_dir"]) / "model.safetensors")
    evaluation = scheduler.submit(spec("score", kind="evaluation", params={"model": model}), "initiator")
    stop = threading.Event()
    loop = threading.Thread(target=study_run["worker"].run_forever, args=(stop,), kwargs={"poll_seconds": 0.1})
    loop.start()
    deadline = time.monotonic() + 60
    while not scheduler.get(evaluation.task_id).state.terminal and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    loop.join(timeout=60)
    done = scheduler.get(evaluation.task_id)
    assert done.state is TaskState.SUCCEEDED, done.failure
    assert done.result is not None
    # Same model, same test split: the evaluation reproduces the study's federated scores.
    assert done.result["metrics"] == pytest.approx(result["metrics"])


def _worker(tmp_path: Path, scheduler: Scheduler) -> TaskWorker:
    return TaskWorker(scheduler, "n1", capacity=1, datasets=[], data_dir=None, out_root=tmp_path)


@pytest.mark.clause("5.4.3.2d")
def test_fold_without_the_model_iteration_module_fails_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "medfed.orchestration.model_iteration", None)  # import fails
    scheduler = Scheduler(MemoryTaskStore(), max_attempts=1)
    task = scheduler.submit(spec("fold", kind="cv_fold", params={"fold": 0, "k": 3}), "initiator")
    ended = _worker(tmp_path, scheduler).run_once()
    assert ended is not None and ended.task_id == task.task_id
    assert ended.state is TaskState.FAILED
    assert "needs medfed.orchestration.model_iteration" in (ended.failure or "")


@pytest.mark.clause("5.4.3.2d")
def test_a_failing_task_is_reported_and_the_worker_carries_on(tmp_path: Path) -> None:
    scheduler = Scheduler(MemoryTaskStore(), max_attempts=1)
    bad = scheduler.submit(spec("no-model", kind="evaluation", params={"model": str(tmp_path / "absent")}), "initiator")
    worker = _worker(tmp_path, scheduler)
    ended = worker.run_once()
    assert ended is not None and ended.task_id == bad.task_id and ended.state is TaskState.FAILED
    assert "needs params.model" in (ended.failure or "")
    assert worker.run_once() is None  # nothing left; the node is still registered and alive
    assert [n.node_id for n in scheduler.nodes()] == ["n1"]


def test_a_task_cancelled_before_it_starts_is_not_run(tmp_path: Path) -> None:
    scheduler = Scheduler(MemoryTaskStore())
    worker = _worker(tmp_path, scheduler)
    worker.heartbeat()
    task = scheduler.submit(spec("t"), "initiator")
    held = scheduler.next_for("n1")
    assert held is not None
    scheduler.cancel(task.task_id, "initiator")
    ended = worker.execute(held)
    assert ended.state is TaskState.CANCELLED
    assert not (tmp_path / task.task_id).exists()  # no work was started


@pytest.mark.clause("5.4.3.2d")
def test_a_setting_no_attempt_can_fix_fails_at_once_without_retries(tmp_path: Path) -> None:
    scheduler = Scheduler(MemoryTaskStore(), max_attempts=3)
    task = scheduler.submit(spec("trial", kind="hp_trial", params={"momentum": 0.9}), "initiator")
    ended = _worker(tmp_path, scheduler).run_once()
    assert ended is not None and ended.task_id == task.task_id
    assert (ended.state, ended.attempts) == (TaskState.FAILED, 1)
    assert "unknown hyper-parameter 'momentum'" in (ended.failure or "")
