"""Where tasks and nodes live: one interface, a memory and an SQL backend, one contract test suite.

Every method is one transaction. Two rules keep a task from being lost or run twice:
* ``claim`` picks and assigns a task in the same transaction, and only takes a task whose
  state is still ``queued`` when it writes;
* ``replace`` writes a task only if its ``version`` is the one the caller read
  (compare-and-set), so a stale writer learns it lost and nothing is overwritten.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from medfed.scheduling.model import ClaimView, NodeInfo, Task, TaskState

# The policy: given a snapshot, the task ids to try for the node, best first.
Chooser = Callable[[ClaimView], Sequence[str]]


class TaskStore(ABC):
    """Persistent tasks and node registry."""

    @abstractmethod
    def add(self, task: Task) -> None:
        """Insert a new task (its id must be new)."""

    @abstractmethod
    def get(self, task_id: str) -> Task | None: ...

    @abstractmethod
    def list(self, *, state: TaskState | None = None, family: str | None = None) -> builtins.list[Task]:
        """Tasks, oldest first, optionally of one state and/or family."""

    @abstractmethod
    def replace(self, task: Task) -> Task | None:
        """Write ``task`` if the stored version equals ``task.version``; return it with the
        version incremented, or None if someone else changed the task first."""

    @abstractmethod
    def claim(self, node_id: str, *, now: float, live_since: float, choose: Chooser) -> Task | None:
        """Atomically assign to ``node_id`` the first still-queued task ``choose`` ranks.

        Marks the node seen at ``now``; the assigned task gets ``attempts + 1``, progress 0.
        Returns None if the node is unknown or nothing is chosen.
        """

    @abstractmethod
    def put_node(self, node: NodeInfo) -> NodeInfo:
        """Insert or update a node (a heartbeat)."""

    @abstractmethod
    def get_node(self, node_id: str) -> NodeInfo | None: ...

    @abstractmethod
    def nodes(self) -> builtins.list[NodeInfo]:
        """All nodes ever heard from, by id."""

    @abstractmethod
    def touch_node(self, node_id: str, now: float) -> None:
        """Mark a known node seen at ``now`` (a sign of life other than a heartbeat)."""

    def close(self) -> None:
        """Release connections (nothing to release by default)."""
        return None
