"""The TaskStore contract, run against memory, SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from medfed.scheduling import NodeInfo, Task, TaskError, TaskState, TaskStore
from medfed.scheduling.model import ClaimView

from .support import spec


def _task(task_id: str, *, priority: int = 0, created: float = 10.0, **spec_changes: object) -> Task:
    return Task(
        task_id=task_id,
        spec=spec(task_id, priority=priority, **spec_changes),
        state=TaskState.QUEUED,
        submitter="initiator",
        assigned_node=None,
        created_at=created,
        updated_at=created,
    )


def _take_all(view: ClaimView) -> list[str]:
    return [c.task_id for c in view.candidates]


def test_added_task_reads_back_equal(store: TaskStore) -> None:
    task = _task(
        "t1", dataset_ids={"hospital-a": "breast"}, params={"max_train": 5}, family="cv-1", study_ca_sha256="0f" * 32
    )
    store.add(task)
    assert store.get("t1") == task
    assert store.get("missing") is None


def test_adding_the_same_id_twice_is_refused(store: TaskStore) -> None:
    store.add(_task("t1"))
    with pytest.raises(TaskError, match="already exists"):
        store.add(_task("t1"))
    assert len(store.list()) == 1


def test_list_filters_by_state_and_family_oldest_first(store: TaskStore) -> None:
    store.add(_task("late", created=20.0, family="f"))
    store.add(_task("early", created=10.0, family="f"))
    store.add(_task("other", created=15.0))
    assert [t.task_id for t in store.list()] == ["early", "other", "late"]
    assert [t.task_id for t in store.list(family="f")] == ["early", "late"]
    assert store.list(state=TaskState.RUNNING) == []


def test_replace_is_compare_and_set_on_the_version(store: TaskStore) -> None:
    store.add(_task("t1"))
    read = store.get("t1")
    assert read is not None
    first = store.replace(replace(read, state=TaskState.CANCELLED, failure="cancelled by a"))
    assert first is not None and first.version == read.version + 1
    # A writer still holding the old version loses and changes nothing.
    assert store.replace(replace(read, state=TaskState.SUCCEEDED, result={"x": 1})) is None
    stored = store.get("t1")
    assert stored is not None and stored.state is TaskState.CANCELLED and stored.result is None


def test_claim_offers_priority_then_age_and_assigns_the_first_choice(store: TaskStore) -> None:
    store.put_node(NodeInfo("n1", 2, 0.0, ("d1",), 0.0))
    store.add(_task("old-low", priority=1, created=1.0))
    store.add(_task("new-high", priority=5, created=3.0))
    store.add(_task("old-high", priority=5, created=2.0))
    offered: list[list[str]] = []

    def choose(view: ClaimView) -> list[str]:
        offered.append(_take_all(view))
        return offered[-1]

    claimed = store.claim("n1", now=50.0, live_since=20.0, choose=choose)
    assert offered == [["old-high", "new-high", "old-low"]]
    assert claimed is not None and claimed.task_id == "old-high"
    assert (claimed.state, claimed.assigned_node, claimed.attempts) == (TaskState.ASSIGNED, "n1", 1)
    node = store.get_node("n1")
    assert node is not None and node.last_seen == 50.0  # a claim is a sign of life


def test_claim_reports_active_counts_and_live_nodes(store: TaskStore) -> None:
    store.put_node(NodeInfo("n1", 2, 0.0, (), 100.0))
    store.put_node(NodeInfo("gone", 2, 0.0, (), 1.0))
    store.add(_task("a"))
    store.add(_task("b"))
    store.claim("n1", now=100.0, live_since=70.0, choose=_take_all)
    seen: dict[str, object] = {}

    def look(view: ClaimView) -> list[str]:  # the view is read inside the claim's transaction
        seen.update(
            own=view.own_active,
            active=view.active,
            live=[n.node_id for n in view.live_nodes],
            candidates=[c.task_id for c in view.candidates],
        )
        return []

    store.claim("n1", now=100.0, live_since=70.0, choose=look)
    assert seen == {"own": 1, "active": {"n1": 1}, "live": ["n1"], "candidates": ["b"]}


def test_claim_sees_only_unbound_or_own_tasks_and_skips_taken_ones(store: TaskStore) -> None:
    store.put_node(NodeInfo("n1", 5, 0.0, (), 0.0))
    store.add(_task("for-n2", bound_to="n2"))
    store.add(_task("for-n1", bound_to="n1"))
    store.add(_task("free"))
    first = store.claim("n1", now=1.0, live_since=0.0, choose=lambda v: ["free"])
    # A chooser naming a task that is no longer queued gets the next one it names.
    second = store.claim("n1", now=1.0, live_since=0.0, choose=lambda v: ["free", "for-n1"])
    offered: list[list[str]] = []
    store.claim("n1", now=1.0, live_since=0.0, choose=lambda v: offered.append(_take_all(v)) or [])
    assert first is not None and first.task_id == "free"
    assert second is not None and second.task_id == "for-n1"
    assert offered == [[]]  # for-n2 is never offered to n1


def test_claim_for_an_unknown_node_assigns_nothing(store: TaskStore) -> None:
    store.add(_task("t1"))
    assert store.claim("ghost", now=1.0, live_since=0.0, choose=_take_all) is None
    stored = store.get("t1")
    assert stored is not None and stored.state is TaskState.QUEUED


def test_nodes_are_upserted_and_touched(store: TaskStore) -> None:
    store.put_node(NodeInfo("b", 1, 0.0, ("x",), 5.0))
    store.put_node(NodeInfo("a", 1, 0.0, (), 5.0))
    store.put_node(NodeInfo("b", 4, 1.5, ("x", "y"), 9.0))
    store.touch_node("a", 12.0)
    store.touch_node("ghost", 12.0)  # unknown: nothing happens
    assert store.nodes() == [NodeInfo("a", 1, 0.0, (), 12.0), NodeInfo("b", 4, 1.5, ("x", "y"), 9.0)]
    assert store.get_node("ghost") is None
