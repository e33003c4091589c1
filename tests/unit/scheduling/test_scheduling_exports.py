"""The public API of medfed.scheduling is small and listed: a change to it is deliberate."""

from __future__ import annotations

import medfed.scheduling as scheduling


def test_exported_members() -> None:
    assert sorted(scheduling.__all__) == [
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
    assert all(hasattr(scheduling, name) for name in scheduling.__all__)
