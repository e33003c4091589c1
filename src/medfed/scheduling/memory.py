"""The in-memory :class:`TaskStore`: one lock makes every method a transaction."""

from __future__ import annotations

import builtins
import copy
import threading
from collections import Counter
from dataclasses import replace

from medfed.scheduling.errors import TaskError
from medfed.scheduling.model import Candidate, ClaimView, NodeInfo, Task, TaskState
from medfed.scheduling.store import Chooser, TaskStore


class MemoryTaskStore(TaskStore):
    """Tasks and nodes in dictionaries; copies go in and out so callers cannot alter stored state."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}  # insertion order = submission order
        self._nodes: dict[str, NodeInfo] = {}

    def add(self, task: Task) -> None:
        with self._lock:
            if task.task_id in self._tasks:
                raise TaskError(f"task {task.task_id} already exists")
            self._tasks[task.task_id] = copy.deepcopy(task)

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            task = self._tasks.get(task_id)
            return copy.deepcopy(task) if task is not None else None

    def list(self, *, state: TaskState | None = None, family: str | None = None) -> builtins.list[Task]:
        with self._lock:
            chosen = [
                (i, t)
                for i, t in enumerate(self._tasks.values())
                if (state is None or t.state is state) and (family is None or t.spec.family == family)
            ]
            # Oldest first, then in submission order: the SQL store's order.
            return [copy.deepcopy(t) for _, t in sorted(chosen, key=lambda p: (p[1].created_at, p[0]))]

    def replace(self, task: Task) -> Task | None:
        with self._lock:
            stored = self._tasks.get(task.task_id)
            if stored is None or stored.version != task.version:
                return None
            written = replace(copy.deepcopy(task), version=task.version + 1)
            self._tasks[task.task_id] = written
            return copy.deepcopy(written)

    def claim(self, node_id: str, *, now: float, live_since: float, choose: Chooser) -> Task | None:
        with self._lock:
            node = self._nodes.get(node_id)
            if node is None:
                return None
            node = self._nodes[node_id] = replace(node, last_seen=now)
            view = ClaimView(
                node,
                own_active=sum(1 for t in self._tasks.values() if t.state.active and t.assigned_node == node_id),
                candidates=lambda: self._candidates(node_id),
                active=lambda: dict(
                    Counter(t.assigned_node or "" for t in self._tasks.values() if t.state.active)
                ),
                live_nodes=lambda: tuple(n for n in self._nodes.values() if n.last_seen >= live_since),
            )
            for task_id in choose(view):
                task = self._tasks.get(task_id)
                if task is None or task.state is not TaskState.QUEUED:
                    continue
                claimed = replace(
                    task,
                    state=TaskState.ASSIGNED,
                    assigned_node=node_id,
                    attempts=task.attempts + 1,
                    progress=0.0,
                    updated_at=now,
                    version=task.version + 1,
                )
                self._tasks[task_id] = claimed
                return copy.deepcopy(claimed)
            return None

    def _candidates(self, node_id: str) -> tuple[Candidate, ...]:
        queued = sorted(
            (
                (i, t)
                for i, t in enumerate(self._tasks.values())
                if t.state is TaskState.QUEUED and t.spec.bound_to in (None, node_id)
            ),
            key=lambda pair: (-pair[1].spec.priority, pair[1].created_at, pair[0]),
        )
        return tuple(Candidate(t.task_id, t.spec.priority, t.spec.bound_to, t.spec.needs) for _, t in queued)

    def put_node(self, node: NodeInfo) -> NodeInfo:
        with self._lock:
            self._nodes[node.node_id] = node
            return node

    def get_node(self, node_id: str) -> NodeInfo | None:
        with self._lock:
            return self._nodes.get(node_id)

    def nodes(self) -> builtins.list[NodeInfo]:
        with self._lock:
            return [self._nodes[k] for k in sorted(self._nodes)]

    def touch_node(self, node_id: str, now: float) -> None:
        with self._lock:
            node = self._nodes.get(node_id)
            if node is not None:
                self._nodes[node_id] = replace(node, last_seen=now)
