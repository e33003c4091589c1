"""The dispatcher's persistent task queue and scheduler (clauses 5.4.2.3c-d, 5.4.3.2a-e).

The initiator submits tasks (a study, a cross-validation fold, a search trial, an evaluation);
computing nodes report what they hold with heartbeats and pull work with ``next_for``;
results are checked before they are accepted and only the result party may read them.
Tasks live in a :class:`TaskStore`: in memory, in an SQLite file or in PostgreSQL
(``open_task_store``). The assignment rules are in :mod:`medfed.scheduling.policy`.
"""

from __future__ import annotations

from medfed.scheduling.checks import parse_study_text
from medfed.scheduling.errors import (
    TaskAccessDeniedError,
    TaskConflictError,
    TaskError,
    TaskStoreUnavailableError,
)
from medfed.scheduling.memory import MemoryTaskStore
from medfed.scheduling.model import KINDS, MAX_PRIORITY, NodeInfo, Task, TaskSpec, TaskState
from medfed.scheduling.scheduler import Scheduler
from medfed.scheduling.sql import SqlTaskStore, open_task_store
from medfed.scheduling.store import TaskStore

__all__ = [
    "KINDS",
    "MAX_PRIORITY",
    "MemoryTaskStore",
    "NodeInfo",
    "Scheduler",
    "SqlTaskStore",
    "Task",
    "TaskAccessDeniedError",
    "TaskConflictError",
    "TaskError",
    "TaskSpec",
    "TaskState",
    "TaskStore",
    "TaskStoreUnavailableError",
    "open_task_store",
    "parse_study_text",
]
