"""Nothing is lost across a restart, and concurrent dispatchers never assign a task twice."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from medfed.errors import ConfigError
from medfed.scheduling import Scheduler, SqlTaskStore, TaskState, TaskStore, open_task_store

from .support import GOOD_RESULT, FakeClock, spec


@pytest.mark.clause("5.4.3.2d")
def test_queue_and_nodes_survive_reopening_the_sqlite_store(tmp_path: Path) -> None:
    path = tmp_path / "tasks.db"
    clock = FakeClock()
    first = open_task_store(path)
    scheduler = Scheduler(first, clock=clock)
    scheduler.heartbeat("n1", capacity=2, load=0.5, datasets=["breast-a"])
    running = scheduler.submit(spec("running", priority=3, family="f"), "initiator")
    queued = scheduler.submit(spec("queued", dataset_ids={"hospital-a": "breast-a"}), "initiator")
    assert scheduler.next_for("n1") is not None
    scheduler.progress(running.task_id, "n1", 0.4)
    first.close()

    second = open_task_store(f"sqlite:///{path}")
    again = Scheduler(second, clock=clock)
    assert [n.node_id for n in again.nodes()] == ["n1"] and again.nodes()[0].load == 0.5
    restored = again.get(running.task_id)
    assert (restored.state, restored.assigned_node, restored.progress) == (TaskState.RUNNING, "n1", 0.4)
    assert again.get(queued.task_id).spec == queued.spec
    # Work carries on where it stopped.
    assert again.complete(running.task_id, "n1", GOOD_RESULT).state is TaskState.SUCCEEDED
    nxt = again.next_for("n1")
    assert nxt is not None and nxt.task_id == queued.task_id
    second.close()


def _race(open_store: Callable[[], TaskStore], *, tasks: int = 40, dispatchers: int = 6) -> None:
    """``dispatchers`` threads, each with its own store connection (as separate processes
    would have), claim for their own node as fast as they can."""
    setup = open_store()
    scheduler = Scheduler(setup)
    for i in range(tasks):
        scheduler.submit(spec(f"t{i}", priority=i % 4), "initiator")
    for d in range(dispatchers):
        scheduler.heartbeat(f"n{d}", capacity=tasks, load=0, datasets=[])
    claims: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(dispatchers)

    def dispatch(node: str) -> None:
        store = open_store()
        own = Scheduler(store)
        try:
            start.wait()
            while (task := own.next_for(node)) is not None:
                claims.append((task.task_id, node))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=dispatch, args=(f"n{d}",)) for d in range(dispatchers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    counts = Counter(task_id for task_id, _ in claims)
    assert len(counts) == tasks and set(counts.values()) == {1}, "a task was assigned twice or never"
    stored = {t.task_id: t for t in scheduler.list()}
    assert all(t.state is TaskState.ASSIGNED and t.attempts == 1 for t in stored.values())
    assert all(stored[task_id].assigned_node == node for task_id, node in claims)
    setup.close()


@pytest.mark.clause("5.4.3.2d")
def test_concurrent_claims_on_sqlite_never_double_assign(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    _race(lambda: SqlTaskStore(url))


@pytest.mark.clause("5.4.3.2d")
def test_concurrent_claims_on_postgresql_never_double_assign(pg_schema: Callable[[], SqlTaskStore]) -> None:
    _race(pg_schema)


def test_concurrent_updates_of_one_task_keep_every_change(tmp_path: Path) -> None:
    """Progress reports racing a cancellation: compare-and-set retries, the cancellation wins once."""
    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    store = SqlTaskStore(url)
    scheduler = Scheduler(store)
    scheduler.heartbeat("n1", capacity=1, load=0, datasets=[])
    task = scheduler.submit(spec("t"), "initiator")
    assert scheduler.next_for("n1") is not None
    outcomes: list[TaskState] = []

    def report() -> None:
        own = SqlTaskStore(url)
        for i in range(10):
            outcomes.append(Scheduler(own).progress(task.task_id, "n1", i / 10).state)
        own.close()

    reporter = threading.Thread(target=report)
    reporter.start()
    scheduler.cancel(task.task_id, "initiator")
    reporter.join()
    final = scheduler.get(task.task_id)
    assert final.state is TaskState.CANCELLED and final.failure == "cancelled by initiator"
    # Once cancelled, no later progress report brought the task back.
    after = outcomes[outcomes.index(TaskState.CANCELLED):] if TaskState.CANCELLED in outcomes else []
    assert set(after) <= {TaskState.CANCELLED}
    store.close()


def test_an_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="cannot be reached"):
        open_task_store("postgresql://medfed@127.0.0.1:1/postgres")  # nothing listens on port 1
