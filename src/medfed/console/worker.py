"""Background work of the console process: one local task worker, or else the lease reaper.

The worker is an ordinary :class:`TaskWorker` node that happens to run in the console's
process, so a task launched from the browser runs to the end on this machine; remote
workers pull from the same store. Reaping re-queues the tasks of nodes that fell silent.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from medfed.console.settings import ConsoleSettings
from medfed.errors import MedfedError
from medfed.orchestration.task_worker import TaskWorker
from medfed.scheduling import Scheduler

log = logging.getLogger("medfed.console")


def local_datasets(data_dir: Path | None) -> tuple[str, ...]:
    """The MedMNIST datasets this machine holds (the ``.npz`` files of the data folder)."""
    folder = data_dir or (Path(os.environ["MEDFED_DATA_DIR"]) if os.environ.get("MEDFED_DATA_DIR") else None)
    if folder is None or not folder.is_dir():
        return ()
    return tuple(sorted(p.stem for p in folder.glob("*.npz")))


class LocalWorker:
    """Runs the local worker and the reaper in daemon threads until :meth:`stop`."""

    def __init__(self, scheduler: Scheduler, settings: ConsoleSettings, *, run_worker: bool = True) -> None:
        self._scheduler = scheduler
        self._settings = settings
        self._run_worker = run_worker
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if self._run_worker:
            s = self._settings
            worker = TaskWorker(
                self._scheduler,
                s.node_id,
                capacity=s.worker_capacity,
                datasets=local_datasets(s.data_dir),
                data_dir=s.data_dir,
                out_root=s.runs,
            )
            self._spawn("medfed-console-worker", lambda: worker.run_forever(self._stop))
        else:
            # The worker reaps on every poll; without it the console keeps the leases itself.
            self._spawn("medfed-console-reaper", self._reap_forever)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _spawn(self, name: str, target: object) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _reap_forever(self) -> None:
        every = max(1.0, self._settings.lease_seconds / 4)
        while not self._stop.wait(every):
            try:
                for task in self._scheduler.reap():
                    log.warning("task %s: %s", task.task_id, task.failure)
            except MedfedError as exc:  # a store hiccup must not end the reaper
                log.error("reaping silent nodes failed: %s", exc)
