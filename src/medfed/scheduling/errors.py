"""Refusals of the task queue.

    MedfedError
    ├── TaskError                 a task or node request is invalid, unknown or out of order (code "task")
    │   └── TaskConflictError     the task is not in a state (or on the node) the request needs
    ├── TransportError
    │   └── TaskStoreUnavailableError  the task store's database cannot be reached (code "task_store")
    └── IdentityError
        └── TaskAccessDeniedError a role may not do the action (code "forbidden")

Every message names the task or node and what to do about it.
"""

from __future__ import annotations

from medfed.errors import IdentityError, MedfedError, TransportError


class TaskError(MedfedError):
    """A task specification, node report or request is refused; nothing was changed."""

    code = "task"


class TaskConflictError(TaskError):
    """The task's current state (or its assigned node) does not allow the request."""

    code = "task_conflict"


class TaskAccessDeniedError(IdentityError):
    """The caller's role may not do what it asked (e.g. fetch a result without the result role)."""

    code = "forbidden"


class TaskStoreUnavailableError(TransportError):
    """The database behind the task store cannot be reached; the request may be repeated."""

    code = "task_store"
