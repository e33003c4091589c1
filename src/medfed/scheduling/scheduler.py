"""The dispatcher's task queue: submit, assign, track, verify, finish (clauses 5.4.2.3c-d, 5.4.3.2a-e).

Life of a task::

    queued ──next_for──▶ assigned ──progress──▶ running ──complete──▶ succeeded
      ▲                     │                      │      (result refused) ▶ failed
      └──── fail / reap ────┴──────────────────────┘   (attempts used up) ▶ failed
    queued | assigned | running ──cancel──▶ cancelled

Every task ends succeeded with a result, or failed or cancelled with the reason. Two leases
return work to the queue (``reap``): a node that stays silent past the lease loses all its tasks,
and a task its node stops renewing (``renew``, ``progress``) past the lease is lost on its own, so
a node that cannot report a task's outcome does not hold it forever while it heartbeats. Every change goes
through the store as a compare-and-set, so concurrent dispatchers never lose or double an update.
"""

from __future__ import annotations

import builtins
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from medfed.roles import Role
from medfed.scheduling import policy
from medfed.scheduling.checks import (
    check_spec,
    is_identifier,
    node_problems,
    result_problems,
    text_problem,
)
from medfed.scheduling.errors import TaskAccessDeniedError, TaskConflictError, TaskError
from medfed.scheduling.model import NodeInfo, Task, TaskSpec, TaskState
from medfed.scheduling.store import TaskStore

_CAS_RETRIES = 20


class Scheduler:
    """Task queue and node registry over a :class:`TaskStore`.

    ``lease_seconds``: how long a node may stay silent before its tasks are re-queued;
    ``max_attempts``: assignments a task gets before a failure or a silent node fails it for good;
    ``clock``: seconds, injectable for tests.
    """

    def __init__(
        self,
        store: TaskStore,
        *,
        lease_seconds: float = 30.0,
        max_attempts: int = 3,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not lease_seconds > 0 or max_attempts < 1:
            raise TaskError("lease_seconds must be > 0 and max_attempts >= 1")
        self.store = store
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self._clock = clock

    # -- the initiator's side -----------------------------------------------------------------

    def submit(self, spec: TaskSpec, submitter: str) -> Task:
        """Check everything about ``spec``, then queue it; a refusal (TaskError) queues nothing."""
        problem = text_problem("submitter", submitter)
        if problem:
            raise TaskError(problem)
        check_spec(spec, self.store.get_node)
        now = self._clock()
        task = Task(
            task_id=uuid.uuid4().hex,
            spec=spec,
            state=TaskState.QUEUED,
            submitter=submitter,
            assigned_node=None,
            created_at=now,
            updated_at=now,
        )
        self.store.add(task)
        return task

    def get(self, task_id: str) -> Task:
        if not isinstance(task_id, str) or "\x00" in task_id or len(task_id) > 64:
            raise TaskError(f"{task_id!r} is not a task id; `medfed task list` shows the known tasks")
        task = self.store.get(task_id)
        if task is None:
            raise TaskError(f"no task {task_id!r}; `medfed task list` shows the known tasks")
        return task

    def list(self, state: TaskState | None = None, family: str | None = None) -> builtins.list[Task]:
        return self.store.list(state=state, family=family)

    def cancel(self, task_id: str, by: str) -> Task:
        """Stop a task that has not finished; the reason names who cancelled it."""
        problem = text_problem("who cancels", by)
        if problem:
            raise TaskError(problem)

        def change(task: Task) -> Task:
            if task.state.terminal:
                raise TaskConflictError(f"task {task_id} already {task.state.value}; nothing to cancel")
            return replace(task, state=TaskState.CANCELLED, failure=f"cancelled by {by}")

        return self._update(task_id, change)

    def result(self, task_id: str, role: Role | str) -> dict[str, Any]:
        """The output of a succeeded task, for the result party only (clause 5.4.2.3g)."""
        try:
            role = Role(role)
        except ValueError:
            raise TaskError(f"unknown role {role!r}; one of: {', '.join(r.value for r in Role)}") from None
        if role is not Role.RESULT:
            raise TaskAccessDeniedError(
                f"only the result party may fetch task results; the {Role(role).value!r} role may not"
            )
        task = self.get(task_id)
        if task.state is not TaskState.SUCCEEDED or task.result is None:
            why = f": {task.failure}" if task.failure else ""
            raise TaskConflictError(f"task {task_id} has no result; it is {task.state.value}{why}")
        return task.result

    # -- the nodes' side ------------------------------------------------------------------------

    def heartbeat(self, node_id: str, *, capacity: int, load: float, datasets: Sequence[str]) -> NodeInfo:
        """Register a node (discovery) or refresh it: what it can run and that it is alive."""
        problems = node_problems(node_id, capacity, load, datasets)
        if problems:
            raise TaskError(f"heartbeat from {node_id!r} refused: " + "; ".join(problems))
        node = NodeInfo(node_id, capacity, float(load), tuple(sorted(set(datasets))), self._clock())
        return self.store.put_node(node)

    def next_for(self, node_id: str) -> Task | None:
        """Assign the node its next task (see :mod:`medfed.scheduling.policy`), or None."""
        self._check_node_id(node_id)
        now = self._clock()
        task = self.store.claim(node_id, now=now, live_since=now - self.lease_seconds, choose=policy.rank)
        if task is None and self.store.get_node(node_id) is None:
            raise TaskError(f"node {node_id!r} has not registered; send a heartbeat first")
        return task

    def progress(self, task_id: str, node_id: str, fraction: float) -> Task:
        """Report how far the node got; the task becomes running. A cancelled task is returned as is,
        so the node learns it may stop."""
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1:
            raise TaskError(f"progress must be a number in [0, 1], not {fraction!r}")
        self._check_node_id(node_id)

        def change(task: Task) -> Task:
            if task.state is TaskState.CANCELLED:
                return task
            self._check_holder(task, node_id)
            return replace(task, state=TaskState.RUNNING, progress=float(fraction))

        self.store.touch_node(node_id, self._clock())
        return self._update(task_id, change)

    def renew(self, task_id: str, node_id: str) -> Task:
        """Keep the task's lease: the node still works on it. A cancelled task is returned as is,
        so the node learns it may stop; a task the node no longer holds is a TaskConflictError."""
        self._check_node_id(node_id)

        def change(task: Task) -> Task:
            if task.state is TaskState.CANCELLED:
                return task
            self._check_holder(task, node_id)
            return replace(task)  # a new record: the store stamps and versions it

        return self._update(task_id, change)

    def complete(self, task_id: str, node_id: str, result: dict[str, Any]) -> Task:
        """Accept the node's output if it is well-formed and consistent with what was asked
        (clause 5.4.3.2e); otherwise the task fails with the reason."""
        self._check_node_id(node_id)

        def change(task: Task) -> Task:
            self._check_holder(task, node_id)
            problems = result_problems(task.spec, result)
            if problems:
                reason = f"result from {node_id} refused: " + "; ".join(problems)
                return replace(task, state=TaskState.FAILED, failure=reason)
            return replace(task, state=TaskState.SUCCEEDED, progress=1.0, result=result, failure=None)

        return self._update(task_id, change)

    def fail(self, task_id: str, node_id: str, reason: str, *, retry: bool = True) -> Task:
        """The node could not finish: back to the queue while attempts remain, else failed.
        ``retry=False`` fails it at once (a failure no other attempt can avoid, e.g. a bad setting)."""
        self._check_node_id(node_id)
        if not isinstance(reason, str) or not reason.strip():
            raise TaskError("a failure needs a reason")
        problem = text_problem("a failure's reason", reason)
        if problem:
            raise TaskError(problem)

        def change(task: Task) -> Task:
            self._check_holder(task, node_id)
            why = f"attempt {task.attempts} on {node_id} failed: {reason}"
            if not retry:
                return replace(task, state=TaskState.FAILED, failure=why)
            return self._retry_or_fail(task, why)

        return self._update(task_id, change)

    def reap(self, now: float | None = None) -> builtins.list[Task]:
        """Re-queue (or fail, once attempts are used up) the tasks of nodes silent past the lease,
        and the tasks their node stopped renewing past the lease."""
        now = self._clock() if now is None else now
        since = now - self.lease_seconds
        silent = {n.node_id: n for n in self.store.nodes() if n.last_seen < since}
        changed = []
        for state in (TaskState.ASSIGNED, TaskState.RUNNING):
            for task in self.store.list(state=state):
                node = silent.get(task.assigned_node or "")
                if node is not None:
                    reason = f"node {node.node_id} fell silent ({now - node.last_seen:.0f} s without a heartbeat)"
                elif task.updated_at < since:
                    reason = (
                        f"node {task.assigned_node} stopped renewing the task "
                        f"({now - task.updated_at:.0f} s without word of it)"
                    )
                else:
                    continue
                written = self.store.replace(self._stamp(self._retry_or_fail(task, reason), now))
                if written is not None:  # else it finished or moved meanwhile: leave it
                    changed.append(written)
        return changed

    def nodes(self) -> builtins.list[NodeInfo]:
        return self.store.nodes()

    def live(self, node: NodeInfo, now: float | None = None) -> bool:
        """Whether ``node`` was heard from within the lease."""
        return node.last_seen >= (self._clock() if now is None else now) - self.lease_seconds

    # -- internals ----------------------------------------------------------------------------

    def _retry_or_fail(self, task: Task, reason: str) -> Task:
        if task.attempts >= self.max_attempts:
            return replace(
                task, state=TaskState.FAILED, failure=f"{reason}; gave up after {task.attempts} attempt(s)"
            )
        return replace(task, state=TaskState.QUEUED, assigned_node=None, progress=0.0, failure=reason)

    @staticmethod
    def _check_node_id(node_id: object) -> None:
        if not is_identifier(node_id):
            raise TaskError(f"node id {node_id!r} must be letters, digits, '.', '_' or '-' (at most 128)")

    @staticmethod
    def _check_holder(task: Task, node_id: str) -> None:
        if task.assigned_node == node_id and task.state.active:
            return
        # Say why this node does not hold it: it lost the task to a lease, or never had it.
        lost = (task.failure or "").startswith((f"node {node_id} fell silent", f"node {node_id} stopped renewing"))
        if not task.state.active:
            message = f"task {task.task_id} is {task.state.value}, not held by any node"
        else:
            message = f"task {task.task_id} is assigned to {task.assigned_node}, not {node_id}"
        if lost:
            message += "; it was re-queued after this node's lease ran out"
        raise TaskConflictError(message)

    def _stamp(self, task: Task, now: float | None = None) -> Task:
        return replace(task, updated_at=self._clock() if now is None else now)

    def _update(self, task_id: str, change: Callable[[Task], Task]) -> Task:
        """Read, change, compare-and-set; re-read and retry if another writer came first."""
        for _ in range(_CAS_RETRIES):
            task = self.get(task_id)
            changed = change(task)
            if changed is task:
                return task
            written = self.store.replace(self._stamp(changed))
            if written is not None:
                return written
        raise TaskConflictError(f"task {task_id} kept changing under concurrent updates; try again")
