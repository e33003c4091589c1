"""Everything the console's pages act on, opened once when the app starts."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from medfed.console.accounts import Accounts
from medfed.console.applications import ApplicationDesk
from medfed.console.reports import run_name
from medfed.console.sessions import Sessions
from medfed.console.settings import ConsoleSettings
from medfed.console.study_context import StudyContext, load_context
from medfed.console.tasks import task_json
from medfed.roles import Role
from medfed.scheduling import Scheduler, Task, open_task_store

log = logging.getLogger("medfed.console")


def sees_results(role: Role) -> bool:
    """Whether ``role`` may see a task's result and its run's report: the result party only (5.4.2.3g).

    Everyone who may view tasks sees their state, assignment and failure reason; the metrics,
    run folder, model digests and report are the results the standard keeps for the result party.
    """
    return role is Role.RESULT


@dataclass
class ConsoleServices:
    settings: ConsoleSettings
    context: StudyContext
    accounts: Accounts
    sessions: Sessions
    scheduler: Scheduler
    desk: ApplicationDesk

    def report_url(self, task: Task) -> str | None:
        """Where the console serves the report of a task that succeeded with a run folder."""
        if task.result is None or task.state.value != "succeeded":
            return None
        for value in task.result.values():
            if isinstance(value, str) and value:
                name = run_name(self.settings.runs, value)
                if name is not None:
                    return f"/runs/{name}/report.html"
        return None

    def task_view(self, task: Task, role: Role) -> dict[str, object]:
        """What ``role`` sees of ``task``: the report link for the result party only."""
        return task_json(task, self.report_url(task) if sees_results(role) else None)

    def close(self) -> None:
        self.desk.close()
        self.scheduler.store.close()
        self.accounts.close()


def open_services(settings: ConsoleSettings) -> ConsoleServices:
    """Load the kit, open the stores; ConfigError/IdentityError with the fix if one is wrong."""
    context = load_context(settings.kit)
    accounts = Accounts(settings.users)
    sessions = Sessions(settings, accounts, context.suite, study_id=context.study.study_id)
    scheduler = Scheduler(open_task_store(settings.store), lease_seconds=settings.lease_seconds)
    settings.runs.mkdir(parents=True, exist_ok=True)
    log.info("console for study %s: tasks in %s, runs in %s", context.study.study_id, settings.store, settings.runs)
    return ConsoleServices(settings, context, accounts, sessions, scheduler, ApplicationDesk(settings, context))
