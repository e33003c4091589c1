"""The records of the task queue: what is asked (TaskSpec), where it stands (Task), who can run it (NodeInfo).

All are frozen; a change of state is a new record written through a :class:`TaskStore`.
``to_dict``/``from_dict`` give the JSON form the stores, the CLI and the web console share.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

KINDS = ("study", "cv_fold", "hp_trial", "evaluation")
MAX_PRIORITY = 1000


class TaskState(enum.StrEnum):
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        """Held by a node (counts against its capacity)."""
        return self in (TaskState.ASSIGNED, TaskState.RUNNING)

    @property
    def terminal(self) -> bool:
        return self in (TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED)


ACTIVE_STATES = (TaskState.ASSIGNED, TaskState.RUNNING)


@dataclass(frozen=True)
class TaskSpec:
    """What the initiator asks for (clause 5.4.3.2a); checked by ``Scheduler.submit``.

    ``dataset_ids`` maps a data party of the study to the dataset id it contributes; a node
    must hold every one of them to run the task. ``bound_to`` names the one node that must
    run it (None: any node holding the datasets). ``family`` groups related tasks (the folds
    of one cross-validation, the trials of one search). ``params`` is JSON-able.
    ``study_ca_sha256`` pins the study CA the result party's kit must chain to: the SHA-256 of
    the CA certificate's DER, 64 lower-case hex digits (None: queued without a pin, as tasks
    from before pinning were). Part of what was asked, so it never changes after queueing.
    """

    kind: str
    name: str
    study_toml: str
    priority: int = 0
    participants: tuple[str, ...] = ()
    dataset_ids: dict[str, str] = field(default_factory=dict)
    bound_to: str | None = None
    family: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    study_ca_sha256: str | None = None

    def __post_init__(self) -> None:
        # Accept lists from JSON or forms; keep the frozen record's tuple.
        if not isinstance(self.participants, tuple):
            object.__setattr__(self, "participants", tuple(self.participants))

    @property
    def needs(self) -> frozenset[str]:
        """The dataset ids a node must hold to run this task."""
        return frozenset(self.dataset_ids.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "study_toml": self.study_toml,
            "priority": self.priority,
            "participants": list(self.participants),
            "dataset_ids": dict(self.dataset_ids),
            "bound_to": self.bound_to,
            "family": self.family,
            "params": self.params,
            "study_ca_sha256": self.study_ca_sha256,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TaskSpec:
        return cls(
            kind=raw["kind"],
            name=raw["name"],
            study_toml=raw["study_toml"],
            priority=raw.get("priority", 0),
            participants=tuple(raw.get("participants", ())),
            dataset_ids=dict(raw.get("dataset_ids", {})),
            bound_to=raw.get("bound_to"),
            family=raw.get("family"),
            params=dict(raw.get("params", {})),
            study_ca_sha256=raw.get("study_ca_sha256"),  # absent in tasks queued before pinning
        )


@dataclass(frozen=True)
class Task:
    """One task and where it stands. ``attempts`` counts assignments; ``progress`` is in [0, 1].

    ``failure`` holds the reason of a failed or cancelled task, and of the last failed attempt
    of a task that went back to the queue. ``version`` increases with every change: stores
    update a task only if its version is unchanged (compare-and-set).
    """

    task_id: str
    spec: TaskSpec
    state: TaskState
    submitter: str
    assigned_node: str | None
    created_at: float
    updated_at: float
    attempts: int = 0
    progress: float = 0.0
    result: dict[str, Any] | None = None
    failure: str | None = None
    version: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "spec": self.spec.to_dict(),
            "state": self.state.value,
            "submitter": self.submitter,
            "assigned_node": self.assigned_node,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "attempts": self.attempts,
            "progress": self.progress,
            "result": self.result,
            "failure": self.failure,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Task:
        return cls(
            task_id=raw["task_id"],
            spec=TaskSpec.from_dict(raw["spec"]),
            state=TaskState(raw["state"]),
            submitter=raw["submitter"],
            assigned_node=raw.get("assigned_node"),
            created_at=float(raw["created_at"]),
            updated_at=float(raw["updated_at"]),
            attempts=int(raw.get("attempts", 0)),
            progress=float(raw.get("progress", 0.0)),
            result=raw.get("result"),
            failure=raw.get("failure"),
            version=int(raw.get("version", 0)),
        )


@dataclass(frozen=True)
class NodeInfo:
    """A computing node as its last heartbeat described it (clause 5.4.3.2b: discovery).

    ``capacity``: how many tasks it runs at once; ``load``: slots taken by work outside this
    queue; ``datasets``: the dataset ids it holds; ``last_seen``: clock seconds.
    """

    node_id: str
    capacity: int
    load: float
    datasets: tuple[str, ...]
    last_seen: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "capacity": self.capacity,
            "load": self.load,
            "datasets": list(self.datasets),
            "last_seen": self.last_seen,
        }


@dataclass(frozen=True)
class Candidate:
    """The part of a queued task the assignment policy looks at (cheap to load)."""

    task_id: str
    priority: int
    bound_to: str | None
    needs: frozenset[str]


class ClaimView:
    """A consistent snapshot, read inside the store's claim transaction, part by part on demand
    (a full node is refused without reading the queue).

    ``own_active``: the node's assigned and running tasks; ``candidates``: queued tasks bound
    to no node or to ``node``, highest priority first, then oldest; ``active``: every node's
    count; ``live_nodes``: the nodes heard from within the lease. Read it only inside the
    chooser: the parts not yet read come from the open transaction.
    """

    def __init__(
        self,
        node: NodeInfo,
        *,
        own_active: int,
        candidates: Callable[[], tuple[Candidate, ...]],
        active: Callable[[], dict[str, int]],
        live_nodes: Callable[[], tuple[NodeInfo, ...]],
    ) -> None:
        self.node = node
        self.own_active = own_active
        self._load_candidates = candidates
        self._load_active = active
        self._load_live_nodes = live_nodes

    @cached_property
    def candidates(self) -> tuple[Candidate, ...]:
        return self._load_candidates()

    @cached_property
    def active(self) -> dict[str, int]:
        return self._load_active()

    @cached_property
    def live_nodes(self) -> tuple[NodeInfo, ...]:
        return self._load_live_nodes()

    @property
    def candidates_read(self) -> bool:
        """Whether the chooser looked at the queue (it does not for a full node)."""
        return "candidates" in self.__dict__
