"""Scheduler behaviour on every store: queueing, priority, load, discovery, leases, checks."""

from __future__ import annotations

import pytest

from medfed.roles import Role
from medfed.scheduling import (
    Scheduler,
    TaskAccessDeniedError,
    TaskConflictError,
    TaskError,
    TaskState,
)

from .support import GOOD_RESULT, STUDY_TOML, FakeClock, spec


def _drain(scheduler: Scheduler, node: str) -> list[str]:
    """Names of the tasks ``node`` gets, one at a time, finishing each at once."""
    names = []
    while (task := scheduler.next_for(node)) is not None:
        names.append(task.spec.name)
        scheduler.complete(task.task_id, node, GOOD_RESULT)
    return names


@pytest.mark.clause("5.4.2.3c", "5.4.3.2a")
def test_submitted_task_shows_its_configuration_and_is_queued(scheduler: Scheduler) -> None:
    scheduler.heartbeat("n1", capacity=1, load=0, datasets=["breast-a"])
    asked = spec(
        "fold-1",
        kind="cv_fold",
        priority=7,
        participants=("hospital-a", "hospital-b", "result"),
        dataset_ids={"hospital-a": "breast-a"},
        bound_to="n1",
        family="cv-42",
        params={"fold": 0, "k": 3},
    )
    task = scheduler.submit(asked, "initiator")
    shown = scheduler.get(task.task_id)
    assert shown.spec == asked
    assert (shown.state, shown.submitter, shown.assigned_node, shown.attempts) == (
        TaskState.QUEUED, "initiator", None, 0
    )
    assert [t.task_id for t in scheduler.list(family="cv-42")] == [task.task_id]


@pytest.mark.clause("5.4.3.2d")
def test_higher_priority_runs_first_then_oldest(scheduler: Scheduler, clock: FakeClock) -> None:
    for name, priority in (("low", 1), ("high-old", 9), ("mid", 5), ("high-new", 9)):
        scheduler.submit(spec(name, priority=priority), "initiator")
        clock.advance(1)
    scheduler.heartbeat("n1", capacity=1, load=0, datasets=[])
    assert _drain(scheduler, "n1") == ["high-old", "high-new", "mid", "low"]


@pytest.mark.clause("5.4.3.2b", "5.4.3.2d")
def test_a_node_gets_no_more_than_its_free_capacity(scheduler: Scheduler) -> None:
    for i in range(5):
        scheduler.submit(spec(f"t{i}"), "initiator")
    scheduler.heartbeat("n1", capacity=3, load=1, datasets=[])
    held = [scheduler.next_for("n1") for _ in range(3)]
    assert [t is not None for t in held] == [True, True, False]  # 3 slots - 1 busy = 2
    first = held[0]
    assert first is not None
    scheduler.complete(first.task_id, "n1", GOOD_RESULT)
    assert scheduler.next_for("n1") is not None  # a finished task frees its slot
    assert len(scheduler.list(state=TaskState.QUEUED)) == 2


@pytest.mark.clause("5.4.3.2b", "5.4.3.2d")
def test_busy_node_leaves_unbound_work_to_an_idle_node(scheduler: Scheduler) -> None:
    for name in ("a", "b", "c"):
        scheduler.submit(spec(name), "initiator")
    scheduler.heartbeat("busy", capacity=4, load=0, datasets=[])
    scheduler.heartbeat("idle", capacity=1, load=0, datasets=[])
    first = scheduler.next_for("busy")
    assert first is not None and first.spec.name == "a"
    assert scheduler.next_for("busy") is None  # "idle" has nothing: b is left for it
    second = scheduler.next_for("idle")
    assert second is not None and second.spec.name == "b"
    third = scheduler.next_for("busy")  # no idle node remains: the busy one takes the rest
    assert third is not None and third.spec.name == "c"


@pytest.mark.clause("5.4.2.3d")
def test_work_bound_to_a_node_goes_only_there_and_before_unbound_work(scheduler: Scheduler) -> None:
    scheduler.heartbeat("n1", capacity=5, load=0, datasets=[])
    scheduler.heartbeat("n2", capacity=5, load=0, datasets=[])
    scheduler.submit(spec("anyone"), "initiator")
    scheduler.submit(spec("only-n2", bound_to="n2"), "initiator")
    assert _drain(scheduler, "n1") == ["anyone"]
    assert _drain(scheduler, "n2") == ["only-n2"]


@pytest.mark.clause("5.4.2.3d")
def test_a_task_needing_a_dataset_goes_only_to_a_node_holding_it(scheduler: Scheduler) -> None:
    scheduler.submit(spec("needs-b", dataset_ids={"hospital-b": "breast-b"}), "initiator")
    scheduler.heartbeat("without", capacity=2, load=0, datasets=["breast-a"])
    scheduler.heartbeat("with", capacity=2, load=0, datasets=["breast-a", "breast-b"])
    assert scheduler.next_for("without") is None
    task = scheduler.next_for("with")
    assert task is not None and task.spec.name == "needs-b"


@pytest.mark.clause("5.4.3.2b", "5.4.3.2d")
def test_several_tasks_run_at_once_across_nodes_and_all_finish(scheduler: Scheduler) -> None:
    for i in range(6):
        scheduler.submit(spec(f"t{i}", priority=i % 3), "initiator")
    for node in ("n1", "n2", "n3"):
        scheduler.heartbeat(node, capacity=2, load=0, datasets=[])
    held = [(node, scheduler.next_for(node)) for _ in range(2) for node in ("n1", "n2", "n3")]
    running = [(node, t) for node, t in held if t is not None]
    assert len(running) == 6 and len({t.task_id for _, t in running}) == 6
    assert {n: sum(1 for m, _ in running if m == n) for n in ("n1", "n2", "n3")} == {"n1": 2, "n2": 2, "n3": 2}
    for node, task in running:
        scheduler.progress(task.task_id, node, 0.5)
    assert len(scheduler.list(state=TaskState.RUNNING)) == 6
    for node, task in running:
        scheduler.complete(task.task_id, node, GOOD_RESULT)
    done = scheduler.list()
    assert all(t.state is TaskState.SUCCEEDED and t.result == GOOD_RESULT for t in done)


@pytest.mark.clause("5.4.3.2b")
def test_a_node_that_enrols_later_gets_the_remaining_work(scheduler: Scheduler) -> None:
    scheduler.heartbeat("early", capacity=1, load=0, datasets=[])
    for name in ("a", "b"):
        scheduler.submit(spec(name), "initiator")
    assert scheduler.next_for("early") is not None
    assert [n.node_id for n in scheduler.nodes()] == ["early"]
    scheduler.heartbeat("late", capacity=1, load=0, datasets=[])  # discovery
    assert [n.node_id for n in scheduler.nodes()] == ["early", "late"]
    task = scheduler.next_for("late")
    assert task is not None and task.spec.name == "b" and task.assigned_node == "late"


@pytest.mark.clause("5.4.3.2b")
def test_an_idle_node_picks_up_unbound_work_a_busy_node_cannot(scheduler: Scheduler) -> None:
    scheduler.heartbeat("full", capacity=1, load=0, datasets=[])
    scheduler.heartbeat("idle", capacity=2, load=0, datasets=[])
    for name in ("a", "b", "c"):
        scheduler.submit(spec(name), "initiator")
    assert scheduler.next_for("full") is not None
    assert scheduler.next_for("full") is None
    picked = [scheduler.next_for("idle"), scheduler.next_for("idle")]
    assert [t.spec.name for t in picked if t is not None] == ["b", "c"]
    assert {t.assigned_node for t in scheduler.list() if t.state.active} == {"full", "idle"}


@pytest.mark.clause("5.4.3.2b", "5.4.3.2d")
def test_a_silent_nodes_work_is_requeued_and_taken_by_another(scheduler: Scheduler, clock: FakeClock) -> None:
    scheduler.heartbeat("flaky", capacity=1, load=0, datasets=[])
    task = scheduler.submit(spec("t"), "initiator")
    assert scheduler.next_for("flaky") is not None
    clock.advance(20)
    assert scheduler.reap() == []  # within the lease
    scheduler.heartbeat("steady", capacity=1, load=0, datasets=[])
    clock.advance(15)  # flaky has been silent 35 s > 30 s
    reaped = scheduler.reap()
    assert [t.task_id for t in reaped] == [task.task_id]
    assert reaped[0].state is TaskState.QUEUED and "flaky fell silent" in (reaped[0].failure or "")
    again = scheduler.next_for("steady")
    assert again is not None and again.task_id == task.task_id and again.attempts == 2
    # The silent node wakes up and reports: it no longer holds the task, nothing changes.
    with pytest.raises(TaskConflictError, match="assigned to steady"):
        scheduler.complete(task.task_id, "flaky", GOOD_RESULT)
    done = scheduler.complete(task.task_id, "steady", GOOD_RESULT)
    assert done.state is TaskState.SUCCEEDED


@pytest.mark.clause("5.4.3.2d")
def test_failures_requeue_until_attempts_run_out_then_fail_with_the_reason(scheduler: Scheduler) -> None:
    scheduler.heartbeat("n1", capacity=1, load=0, datasets=[])
    task = scheduler.submit(spec("t"), "initiator")
    assert scheduler.next_for("n1") is not None
    first = scheduler.fail(task.task_id, "n1", "out of memory")
    assert first.state is TaskState.QUEUED and "out of memory" in (first.failure or "")
    assert scheduler.next_for("n1") is not None
    last = scheduler.fail(task.task_id, "n1", "out of memory again")
    assert last.state is TaskState.FAILED  # max_attempts = 2
    assert "out of memory again" in (last.failure or "") and "gave up after 2" in (last.failure or "")
    assert scheduler.next_for("n1") is None


def test_a_failure_marked_final_is_not_retried(scheduler: Scheduler) -> None:
    scheduler.heartbeat("n1", capacity=1, load=0, datasets=[])
    task = scheduler.submit(spec("t"), "initiator")
    assert scheduler.next_for("n1") is not None
    ended = scheduler.fail(task.task_id, "n1", "bad setting", retry=False)
    assert (ended.state, ended.attempts, ended.failure) == (TaskState.FAILED, 1, "attempt 1 on n1 failed: bad setting")


@pytest.mark.clause("5.4.3.2e")
@pytest.mark.parametrize(
    ("result", "reason"),
    [
        ({"metrics": {"auc": 1.7, "ks": 0.5, "accuracy": 0.7}, "rounds": 1}, "auc=1.7 lies outside"),
        ({"metrics": {"auc": None, "ks": 0.5, "accuracy": 0.7}, "rounds": 1}, "auc is not a finite number"),
        ({"metrics": {"auc": float("nan"), "ks": 0.5, "accuracy": 0.7}, "rounds": 1}, "not a finite number"),
        ({"metrics": {"auc": 0.8, "ks": 0.5, "accuracy": 0.7}, "rounds": 3}, "asked for 1 round"),
        ({"metrics": {"auc": 0.8}, "rounds": 1}, "metrics lack ks, accuracy"),
        ({"rounds": 1}, "no 'metrics'"),
    ],
)
def test_an_inconsistent_result_fails_the_task_with_the_reason(
    scheduler: Scheduler, result: dict[str, object], reason: str
) -> None:
    scheduler.heartbeat("n1", capacity=1, load=0, datasets=[])
    task = scheduler.submit(spec("t"), "initiator")
    assert scheduler.next_for("n1") is not None
    ended = scheduler.complete(task.task_id, "n1", result)
    assert ended.state is TaskState.FAILED and ended.result is None
    assert reason in (ended.failure or "")
    with pytest.raises(TaskConflictError, match="no result"):
        scheduler.result(task.task_id, Role.RESULT)


@pytest.mark.clause("5.4.3.2e")
def test_a_study_result_must_have_the_rounds_its_params_asked_for(scheduler: Scheduler) -> None:
    scheduler.heartbeat("n1", capacity=1, load=0, datasets=[])
    task = scheduler.submit(spec("t", params={"rounds": 3}), "initiator")
    assert scheduler.next_for("n1") is not None
    assert scheduler.complete(task.task_id, "n1", {**GOOD_RESULT, "rounds": 3}).state is TaskState.SUCCEEDED


@pytest.mark.clause("5.4.2.3g")
def test_only_the_result_party_may_read_a_result(scheduler: Scheduler) -> None:
    scheduler.heartbeat("n1", capacity=1, load=0, datasets=[])
    task = scheduler.submit(spec("t"), "initiator")
    assert scheduler.next_for("n1") is not None
    scheduler.complete(task.task_id, "n1", GOOD_RESULT)
    for role in (Role.INITIATOR, Role.DATA, Role.DISPATCHER):
        with pytest.raises(TaskAccessDeniedError, match="only the result party"):
            scheduler.result(task.task_id, role)
    assert scheduler.result(task.task_id, Role.RESULT) == GOOD_RESULT


@pytest.mark.clause("5.4.3.2d")
def test_cancelled_task_ends_with_who_cancelled_and_is_not_run(scheduler: Scheduler) -> None:
    scheduler.heartbeat("n1", capacity=2, load=0, datasets=[])
    queued = scheduler.submit(spec("queued"), "initiator")
    running = scheduler.submit(spec("running"), "initiator")
    held = scheduler.next_for("n1")
    assert held is not None and held.task_id == queued.task_id
    scheduler.cancel(queued.task_id, "initiator")
    assert scheduler.get(queued.task_id).failure == "cancelled by initiator"
    # The node learns of the cancellation when it reports progress; its late result is refused.
    assert scheduler.progress(queued.task_id, "n1", 0.5).state is TaskState.CANCELLED
    with pytest.raises(TaskConflictError, match="cancelled"):
        scheduler.complete(queued.task_id, "n1", GOOD_RESULT)
    with pytest.raises(TaskConflictError, match="already cancelled"):
        scheduler.cancel(queued.task_id, "initiator")
    other = scheduler.next_for("n1")
    assert other is not None and other.task_id == running.task_id


# -- bad input: a clear error, and nothing half-created ------------------------------------------


def _refused(scheduler: Scheduler, match: str, **changes: object) -> None:
    before = scheduler.list()
    with pytest.raises(TaskError, match=match):
        scheduler.submit(spec(**{"name": "bad", **changes}), "initiator")  # type: ignore[arg-type]
    assert scheduler.list() == before


@pytest.mark.clause("5.4.3.2a")
def test_malformed_study_file_is_refused(scheduler: Scheduler) -> None:
    _refused(scheduler, "not valid TOML", study_toml="[study\nid = ")
    _refused(scheduler, r"\[training\] rounds must be >= 1", study_toml=STUDY_TOML.replace("rounds = 1", "rounds = 0"))
    _refused(scheduler, "study file is empty", study_toml="  ")


@pytest.mark.clause("5.4.3.2a")
def test_unknown_party_is_refused(scheduler: Scheduler) -> None:
    _refused(scheduler, "'hospital-z' are not parties of study 'breast-small'", participants=("hospital-a", "hospital-z"))
    _refused(scheduler, "'hospital-z', which is not a data party", dataset_ids={"hospital-z": "d"})
    _refused(scheduler, "'result', which is not a data party", dataset_ids={"result": "d"})


@pytest.mark.clause("5.4.2.3d", "5.4.3.2a")
def test_binding_to_a_node_without_the_dataset_is_refused(scheduler: Scheduler) -> None:
    scheduler.heartbeat("n1", capacity=1, load=0, datasets=["breast-a"])
    _refused(
        scheduler,
        r"node 'n1' does not hold dataset\(s\) breast-b \(it holds: breast-a\)",
        bound_to="n1",
        dataset_ids={"hospital-b": "breast-b"},
    )
    _refused(scheduler, "'ghost' has never reported", bound_to="ghost")


@pytest.mark.clause("5.4.3.2a")
def test_bad_kind_priority_and_params_are_refused_all_at_once(scheduler: Scheduler) -> None:
    _refused(scheduler, "kind 'training' is unknown", kind="training")
    _refused(scheduler, r"priority must be in 0\.\.1000", priority=-1)
    _refused(scheduler, "priority must be an integer", priority=True)
    _refused(scheduler, "params must be a JSON object", params={"x": float("inf")})
    _refused(scheduler, "needs integer params.fold", kind="cv_fold", params={})
    _refused(scheduler, "0 <= fold < k", kind="cv_fold", params={"fold": 3, "k": 3})
    _refused(scheduler, "an evaluation needs params.model", kind="evaluation")
    # Several problems: every one is named in one refusal.
    _refused(scheduler, "kind 'x' is unknown.*name must be.*priority must be", kind="x", name="", priority=5000)


@pytest.mark.clause("5.4.3.2b")
def test_bad_heartbeats_are_refused_and_register_nothing(scheduler: Scheduler) -> None:
    for kwargs, match in (
        ({"capacity": -1, "load": 0, "datasets": []}, "capacity must be an integer >= 0"),
        ({"capacity": 1, "load": -0.5, "datasets": []}, "load must be a finite number >= 0"),
        ({"capacity": 1, "load": 0, "datasets": ["bad id"]}, "dataset ids"),
    ):
        with pytest.raises(TaskError, match=match):
            scheduler.heartbeat("n1", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TaskError, match="node id"):
        scheduler.heartbeat("no spaces", capacity=1, load=0, datasets=[])
    assert scheduler.nodes() == []
    with pytest.raises(TaskError, match="has not registered"):
        scheduler.next_for("n1")


def test_reports_for_unknown_tasks_or_bad_progress_are_refused(scheduler: Scheduler) -> None:
    scheduler.heartbeat("n1", capacity=1, load=0, datasets=[])
    task = scheduler.submit(spec("t"), "initiator")
    with pytest.raises(TaskError, match="no task 'nope'"):
        scheduler.get("nope")
    with pytest.raises(TaskConflictError, match="queued, not held"):
        scheduler.complete(task.task_id, "n1", GOOD_RESULT)
    assert scheduler.next_for("n1") is not None
    with pytest.raises(TaskError, match=r"progress must be a number in \[0, 1\]"):
        scheduler.progress(task.task_id, "n1", 1.5)
    with pytest.raises(TaskError, match="needs a reason"):
        scheduler.fail(task.task_id, "n1", " ")
    assert scheduler.get(task.task_id).state is TaskState.ASSIGNED
