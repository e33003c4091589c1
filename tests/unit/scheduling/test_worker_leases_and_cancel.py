"""A node never holds a task it cannot report (per-task lease, retried reports), and cancelling a
task stops the work on the node (5.4.3.2c, 5.4.3.2d)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from medfed.orchestration.task_worker import TaskWorker
from medfed.scheduling import (
    MemoryTaskStore,
    Scheduler,
    Task,
    TaskConflictError,
    TaskState,
    TaskStoreUnavailableError,
)

from .support import GOOD_RESULT, FakeClock, spec

FAST = (0.01, 0.01, 0.01)


class SteppingWorker(TaskWorker):
    """A node whose work is ``params.steps`` short steps, each reported as progress: a long task
    in miniature, so cancelling it midway can be watched."""

    step_seconds = 0.01

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.steps_done: dict[str, int] = {}

    def _run(self, task: Task, progress: Callable[[float], Any]) -> dict[str, Any]:
        steps = int(task.spec.params.get("steps", 1))
        for i in range(1, steps + 1):
            time.sleep(self.step_seconds)
            self.steps_done[task.task_id] = i
            progress(i / steps)
        return dict(GOOD_RESULT)


class FlakyStore(MemoryTaskStore):
    """An in-memory store whose database is down for the next ``outages`` writes that end a task."""

    def __init__(self) -> None:
        super().__init__()
        self.outages = 0

    def replace(self, task: Task) -> Task | None:
        if task.state.terminal and self.outages > 0:
            self.outages -= 1
            raise TaskStoreUnavailableError("task store memory: cannot be reached: database restarting")
        return super().replace(task)


def _worker(scheduler: Scheduler, tmp_path: Path, node: str = "n1") -> SteppingWorker:
    return SteppingWorker(scheduler, node, capacity=1, datasets=[], data_dir=None, out_root=tmp_path,
                          report_delays=FAST)


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


# -- the task's own lease ----------------------------------------------------------------------------


@pytest.mark.clause("5.4.3.2d")
def test_a_task_its_live_node_stops_renewing_is_requeued(scheduler: Scheduler, clock: FakeClock) -> None:
    scheduler.heartbeat("n1", capacity=2, load=0, datasets=[])
    kept = scheduler.submit(spec("kept"), "initiator")
    dropped = scheduler.submit(spec("dropped"), "initiator")
    assert scheduler.next_for("n1") is not None and scheduler.next_for("n1") is not None
    for _ in range(4):  # 40 s: the node stays alive, but renews only one of its tasks
        clock.advance(10)
        scheduler.heartbeat("n1", capacity=2, load=0, datasets=[])
        scheduler.renew(kept.task_id, "n1")
        reaped = scheduler.reap()
    assert [t.task_id for t in reaped] == [dropped.task_id]
    assert reaped[0].state is TaskState.QUEUED
    assert "n1 stopped renewing the task" in (reaped[0].failure or "")
    assert scheduler.get(kept.task_id).state is TaskState.ASSIGNED
    with pytest.raises(TaskConflictError, match="re-queued after this node's lease ran out"):
        scheduler.complete(dropped.task_id, "n1", GOOD_RESULT)
    with pytest.raises(TaskConflictError, match="assigned to n1, not n2"):
        scheduler.renew(kept.task_id, "n2")
    scheduler.cancel(kept.task_id, "initiator")
    assert scheduler.renew(kept.task_id, "n1").state is TaskState.CANCELLED  # the node learns to stop


# -- reporting through store outages -------------------------------------------------------------------


@pytest.mark.clause("5.4.3.2d")
def test_a_result_is_recorded_after_a_brief_store_outage(tmp_path: Path) -> None:
    store = FlakyStore()
    scheduler = Scheduler(store)
    task = scheduler.submit(spec("blip"), "initiator")
    worker = _worker(scheduler, tmp_path)
    worker.heartbeat()
    held = scheduler.next_for("n1")
    assert held is not None
    store.outages = 2
    ended = worker.execute(held)
    assert (ended.state, ended.result) == (TaskState.SUCCEEDED, GOOD_RESULT)
    assert scheduler.get(task.task_id).state is TaskState.SUCCEEDED
    assert store.outages == 0


@pytest.mark.clause("5.4.3.2d")
def test_an_outcome_that_cannot_be_recorded_is_kept_and_the_task_returns_to_the_queue(tmp_path: Path) -> None:
    clock = FakeClock()
    store = FlakyStore()
    scheduler = Scheduler(store, lease_seconds=30, clock=clock)
    task = scheduler.submit(spec("lost"), "initiator")
    worker = _worker(scheduler, tmp_path)
    worker.heartbeat()
    held = scheduler.next_for("n1")
    assert held is not None
    store.outages = 10**6  # down for longer than the worker keeps trying
    ended = worker.execute(held)  # returns instead of raising: the node carries on
    assert ended.task_id == task.task_id
    kept = json.loads((tmp_path / task.task_id / "outcome.json").read_text(encoding="utf-8"))
    assert kept["result"] == GOOD_RESULT and "database restarting" in kept["not_recorded_because"]
    # The database is back; the node keeps heartbeating but no longer renews the task.
    store.outages = 0
    clock.advance(31)
    worker.heartbeat()
    reaped = scheduler.reap()
    assert [t.task_id for t in reaped] == [task.task_id]
    assert reaped[0].state is TaskState.QUEUED and "stopped renewing" in (reaped[0].failure or "")
    again = scheduler.next_for("n1")
    assert again is not None and again.attempts == 2


# -- cancelling stops the work -----------------------------------------------------------------------------


@pytest.mark.clause("5.4.3.2c")
def test_cancelling_a_running_task_stops_its_work_and_reports_nothing(tmp_path: Path) -> None:
    scheduler = Scheduler(MemoryTaskStore())
    worker = _worker(scheduler, tmp_path)
    worker.heartbeat()
    task = scheduler.submit(spec("long", params={"steps": 2000}), "initiator")  # 20 s if not stopped
    held = scheduler.next_for("n1")
    assert held is not None
    ended: list[Task] = []
    runner = threading.Thread(target=lambda: ended.append(worker.execute(held)))
    runner.start()
    assert _wait(lambda: worker.steps_done.get(task.task_id, 0) >= 3, 10)
    cancelled_at = time.monotonic()
    scheduler.cancel(task.task_id, "dr-x")
    runner.join(10)
    assert not runner.is_alive()
    stopped_after = time.monotonic() - cancelled_at
    assert worker.steps_done[task.task_id] < 2000 and stopped_after < 5
    final = scheduler.get(task.task_id)
    assert (final.state, final.failure, final.result) == (TaskState.CANCELLED, "cancelled by dr-x", None)
    assert ended[0].state is TaskState.CANCELLED


@pytest.mark.clause("5.4.3.2c")
def test_a_cancelled_task_frees_its_slot_for_the_next(tmp_path: Path) -> None:
    scheduler = Scheduler(MemoryTaskStore())
    worker = _worker(scheduler, tmp_path)
    long = scheduler.submit(spec("long", priority=9, params={"steps": 2000}), "initiator")
    short = scheduler.submit(spec("short", params={"steps": 3}), "initiator")
    stop = threading.Event()
    loop = threading.Thread(target=worker.run_forever, args=(stop,), kwargs={"poll_seconds": 0.05})
    loop.start()
    try:
        assert _wait(lambda: worker.steps_done.get(long.task_id, 0) >= 3, 10)
        assert scheduler.get(short.task_id).state is TaskState.QUEUED  # capacity 1: it waits
        scheduler.cancel(long.task_id, "initiator")
        assert _wait(lambda: scheduler.get(short.task_id).state is TaskState.SUCCEEDED, 10)
    finally:
        stop.set()
        loop.join(30)
    assert worker.steps_done[long.task_id] < 2000
    assert scheduler.get(long.task_id).state is TaskState.CANCELLED


class CancelAfterFirstRound(TaskWorker):
    """A real study run whose task the initiator cancels as soon as its first round is reported."""

    def _progress(self, task_id: str, fraction: float, ended: threading.Event) -> None:
        if fraction > 0.05:  # 0.05 is the start; anything above is a finished round
            self.scheduler.cancel(task_id, "initiator")
        super()._progress(task_id, fraction, ended)


@pytest.mark.slow
@pytest.mark.clause("5.4.3.2c")
def test_cancelling_a_real_study_stops_it_after_the_round_in_progress(tmp_path: Path, medmnist_dir: Path) -> None:
    scheduler = Scheduler(MemoryTaskStore())
    worker = CancelAfterFirstRound(
        scheduler, "n1", capacity=1, datasets=["breastmnist"], data_dir=medmnist_dir, out_root=tmp_path
    )
    worker.heartbeat()
    task = scheduler.submit(spec("three-rounds", params={"rounds": 3, "max_train": 64}), "initiator")
    held = scheduler.next_for("n1")
    assert held is not None
    ended = worker.execute(held)
    assert ended.state is TaskState.CANCELLED and ended.result is None
    run_dir = tmp_path / task.task_id / "run"
    assert (tmp_path / task.task_id / "run.log").is_file()
    assert not (run_dir / "results.json").exists()  # the study stopped before its last round
