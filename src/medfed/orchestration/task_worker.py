"""A computing node's loop over the dispatcher's task queue (clauses 5.4.2.3d-e, 5.4.3.2b-d).

The worker announces itself and what it holds (heartbeat), takes work with ``next_for``,
runs it, reports progress, and hands back a result or the reason it failed. While a task
runs, a background keeper heartbeats (the node's lease) and renews the task (the task's lease),
so long tasks are not re-queued; it renews only while the task really executes.

Cancelling stops the work: the progress callback raises :class:`TaskCancelledError` once the
scheduler says the task ended (or no longer belongs to this node), the run unwinds, the slot is
freed and nothing further is reported. A fold or trial, which reports no progress, is checked
when it returns.

Reporting the outcome is retried with growing pauses (``report_delays``) while the store is
unreachable or fails unexpectedly. If it still cannot be recorded, the outcome is written to
``<out_root>/<task id>/outcome.json``, the worker stops renewing the task, and the scheduler
re-queues it once its lease runs out: the node never holds a task it cannot report.

What each kind runs:
* ``study``: the study in simulation mode (:func:`medfed.orchestration.runs.run_study`); the
  result holds the federated AUC/KS/accuracy, the rounds run, the run folder and the SHA-256
  of ``results.json`` and ``model.safetensors``;
* ``cv_fold`` / ``hp_trial``: ``medfed.orchestration.model_iteration.run_cv_fold`` /
  ``run_hp_trial(study, params, out_dir) -> dict``;
* ``evaluation``: scores the model file ``params["model"]`` (safetensors) on the study's
  test split.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console

from medfed.core.config import StudyConfig
from medfed.errors import ConfigError, MedfedError
from medfed.scheduling import (
    NodeInfo,
    Scheduler,
    Task,
    TaskConflictError,
    TaskError,
    TaskStoreUnavailableError,
    parse_study_text,
)

log = logging.getLogger(__name__)


class TaskUnavailableError(MedfedError):
    """This node cannot run the task's kind (a component it needs is not installed)."""

    code = "task_unavailable"


class TaskCancelledError(MedfedError):
    """The task ended (cancelled) or left this node while it ran: stop the work, report nothing."""

    code = "task_cancelled"


# Pauses before each new try to record an outcome: about half a minute in all.
REPORT_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


class TaskWorker:
    """Runs the tasks the scheduler assigns to ``node_id``, ``capacity`` at a time.

    ``datasets``: the dataset ids this node holds (tasks needing others never come here);
    ``data_dir``: where the MedMNIST files are; ``out_root``: one folder per task is made in it.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        node_id: str,
        *,
        capacity: int,
        datasets: tuple[str, ...] | list[str],
        data_dir: Path | None,
        out_root: Path,
        load: float = 0.0,
        device: str = "cpu",
        report_delays: tuple[float, ...] = REPORT_DELAYS,
    ) -> None:
        self.scheduler = scheduler
        self.node_id = node_id
        self.capacity = capacity
        self.datasets = tuple(datasets)
        self.data_dir = data_dir
        self.out_root = Path(out_root)
        self.load = load
        self.device = device
        self.report_delays = tuple(report_delays)

    def heartbeat(self) -> NodeInfo:
        return self.scheduler.heartbeat(self.node_id, capacity=self.capacity, load=self.load, datasets=self.datasets)

    def run_once(self) -> Task | None:
        """Heartbeat, re-queue silent nodes' work, take one task and run it; None when there was none."""
        self.heartbeat()
        self.scheduler.reap()
        task = self.scheduler.next_for(self.node_id)
        return self.execute(task) if task is not None else None

    def run_forever(self, stop_event: threading.Event, *, poll_seconds: float = 1.0) -> None:
        """Keep up to ``capacity`` tasks running until ``stop_event`` is set; then finish those."""
        running: set[Future[Task]] = set()
        with ThreadPoolExecutor(max_workers=max(1, self.capacity), thread_name_prefix=self.node_id) as pool:
            while not stop_event.is_set():
                running = {f for f in running if not f.done()}
                try:
                    self.heartbeat()
                    self.scheduler.reap()
                    while len(running) < self.capacity:
                        task = self.scheduler.next_for(self.node_id)
                        if task is None:
                            break
                        running.add(pool.submit(self.execute, task))
                except TaskStoreUnavailableError as exc:  # the database restarts: keep polling
                    log.warning("%s; retrying in %.1f s", exc, poll_seconds)
                stop_event.wait(poll_seconds)

    def execute(self, task: Task) -> Task:
        """Run an assigned task and report how it ended; returns the task as the scheduler holds it
        (as last known, when the store cannot be reached)."""
        stop, ended = threading.Event(), threading.Event()
        keeper = threading.Thread(target=self._keep_alive, args=(task.task_id, stop, ended), daemon=True)
        keeper.start()
        try:
            if self.scheduler.progress(task.task_id, self.node_id, 0.0).state.terminal:
                return self.scheduler.get(task.task_id)  # cancelled before it started
            try:
                result = self._run(task, lambda f: self._progress(task.task_id, f, ended))
                if ended.is_set():  # a fold or trial cannot be stopped midway: drop what it made
                    raise TaskCancelledError(f"task {task.task_id} ended while it ran")
            except TaskCancelledError as exc:
                log.info("task %s stopped: %s", task.task_id, exc)
                return self._current(task)
            except ConfigError as exc:  # the task's own settings: every attempt would fail alike
                return self._report(task, failure=str(exc), retry=False)
            except MedfedError as exc:
                return self._report(task, failure=str(exc))
            except Exception as exc:  # noqa: BLE001 - the worker's boundary: a task's crash must end the task, not the node
                log.exception("task %s crashed", task.task_id)
                return self._report(task, failure=f"{type(exc).__name__}: {exc}")
            return self._report(task, result=result)
        finally:
            stop.set()
            keeper.join()

    def _progress(self, task_id: str, fraction: float, ended: threading.Event) -> None:
        """The run's progress callback: report it, and stop the run once the task is no longer ours."""
        if ended.is_set():
            raise TaskCancelledError(f"task {task_id} ended while it ran")
        try:
            task = self.scheduler.progress(task_id, self.node_id, fraction)
        except TaskConflictError as exc:  # re-queued or finished elsewhere: this run is void
            ended.set()
            raise TaskCancelledError(str(exc)) from None
        except TaskStoreUnavailableError as exc:  # progress is news, not a duty: keep working
            log.warning("task %s: progress not recorded: %s", task_id, exc)
            return
        if task.state.terminal:
            ended.set()
            raise TaskCancelledError(f"task {task_id} is {task.state.value}: {task.failure or 'no reason given'}")

    def _report(
        self, task: Task, *, result: dict[str, Any] | None = None, failure: str | None = None, retry: bool = True
    ) -> Task:
        """Record the outcome, trying again with pauses while the store fails; see the module docstring."""
        reason = (failure or "unknown failure").replace("\x00", "\\0")  # a store text holds no NUL
        last: Exception | None = None
        for delay in (0.0, *self.report_delays):
            if delay:
                time.sleep(delay)
            try:
                if result is not None:
                    return self.scheduler.complete(task.task_id, self.node_id, result)
                return self.scheduler.fail(task.task_id, self.node_id, reason, retry=retry)
            except TaskConflictError as exc:  # cancelled, or re-queued after this node's lease ran out
                log.warning("task %s: outcome not recorded: %s", task.task_id, exc)
                return self._current(task)
            except TaskError as exc:  # a refusal is final; trying again would be refused alike
                if result is None:
                    raise
                return self._report(task, failure=f"the result was refused: {exc}", retry=False)
            except Exception as exc:  # noqa: BLE001 - the store is down or failed: try again
                last = exc
                log.warning("task %s: outcome not recorded yet (%s); trying again", task.task_id, exc)
        kept = self._keep_outcome(task, result, reason, last)
        log.error(
            "task %s: outcome could not be recorded (%s); kept in %s. The task is no longer renewed "
            "and returns to the queue when its lease runs out",
            task.task_id, last, kept,
        )
        return task

    def _keep_outcome(self, task: Task, result: dict[str, Any] | None, reason: str, error: Exception | None) -> Path:
        path = self.out_root / task.task_id / "outcome.json"
        outcome = {"task_id": task.task_id, "result": result} if result is not None else {"failure": reason}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({**outcome, "not_recorded_because": str(error)}, indent=1), encoding="utf-8")
        except (OSError, TypeError, ValueError) as exc:
            log.error("task %s: cannot keep the outcome in %s: %s", task.task_id, path, exc)
        return path

    def _current(self, task: Task) -> Task:
        """The task as the scheduler holds it, or as last known when the store cannot say."""
        try:
            return self.scheduler.get(task.task_id)
        except TaskStoreUnavailableError:
            return task

    def _keep_alive(self, task_id: str, stop: threading.Event, ended: threading.Event) -> None:
        """Heartbeat the node and renew the task until ``stop``; note when the task ends elsewhere."""
        while not stop.wait(self.scheduler.lease_seconds / 3):
            try:
                self.heartbeat()
                if not ended.is_set() and self.scheduler.renew(task_id, self.node_id).state.terminal:
                    ended.set()
            except TaskConflictError as exc:  # finished, or re-queued: the run is void
                log.warning("task %s: no longer held by this node: %s", task_id, exc)
                ended.set()
            except TaskStoreUnavailableError as exc:  # try again next beat; the lease allows two misses
                log.warning("heartbeat lost: %s", exc)

    def _run(self, task: Task, progress: Callable[[float], Any]) -> dict[str, Any]:
        spec = task.spec
        study = parse_study_text(spec.study_toml)
        work = self.out_root / task.task_id
        work.mkdir(parents=True, exist_ok=True)
        (work / "study.toml").write_text(spec.study_toml, encoding="utf-8")
        (work / "task.json").write_text(json.dumps(task.to_dict(), indent=1), encoding="utf-8")
        if spec.kind == "study":
            return self._study(work, spec.params, progress)
        if spec.kind == "evaluation":
            return self._evaluation(study, spec.params)
        # A fold or trial reads its data and device from params; this node's own are the default.
        defaults = {"device": self.device, **({"data_dir": str(self.data_dir)} if self.data_dir else {})}
        return _model_iteration(spec.kind, study, {**defaults, **spec.params}, work / "out")

    def _study(self, work: Path, params: dict[str, Any], progress: Callable[[float], Any]) -> dict[str, Any]:
        from medfed.orchestration.runs import RunOptions, run_study

        run_dir = work / "run"
        progress(0.05)
        with (work / "run.log").open("w", encoding="utf-8") as log_file:
            run_study(
                RunOptions(
                    study_path=work / "study.toml",
                    out_dir=run_dir,
                    data_dir=self.data_dir,
                    device=self.device,
                    mode="simulation",
                    rounds=params.get("rounds"),
                    max_train=params.get("max_train"),
                    on_progress=progress,
                ),
                console=Console(file=log_file, width=120),
            )
        progress(0.95)
        # Report what was written to disk (NaN already mapped to null), not the in-memory copy.
        results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
        fed = results["federated"]
        return {
            "study_id": results["study"]["id"],
            "metrics": {"auc": fed["auc"], "ks": fed["ks"], "accuracy": fed["accuracy"]},
            "centralized": {k: results["centralized"][k] for k in ("auc", "ks", "accuracy")},
            "rounds": len(results["rounds"]),
            "run_dir": str(run_dir.resolve()),
            "sha256": {name: _sha256(run_dir / name) for name in ("results.json", "model.safetensors")},
        }

    def _evaluation(self, study: StudyConfig, params: dict[str, Any]) -> dict[str, Any]:
        from safetensors.numpy import load_file

        from medfed.orchestration.results import evaluate_params
        from medfed.orchestration.scenario import prepare_scenario
        from medfed.training import resolve_device

        model_path = params.get("model")
        if not isinstance(model_path, str) or not Path(model_path).is_file():
            raise TaskUnavailableError(f"an evaluation needs params.model, a model.safetensors file; got {model_path!r}")
        scenario = prepare_scenario(study, data_dir=self.data_dir)
        metrics, _ = evaluate_params(
            study, scenario, load_file(model_path), device=resolve_device(self.device)
        )
        return {
            "metrics": {"auc": metrics.auc, "ks": metrics.ks, "accuracy": metrics.accuracy},
            "n": metrics.n,
            "model": model_path,
            "sha256": {"model": _sha256(Path(model_path))},
        }


def _model_iteration(kind: str, study: StudyConfig, params: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """Cross-validation folds and search trials come from ``medfed.orchestration.model_iteration``."""
    try:
        module = importlib.import_module("medfed.orchestration.model_iteration")
    except ImportError as exc:
        raise TaskUnavailableError(
            f"kind {kind!r} needs medfed.orchestration.model_iteration, which this installation lacks ({exc})"
        ) from None
    name = {"cv_fold": "run_cv_fold", "hp_trial": "run_hp_trial"}[kind]
    run = getattr(module, name, None)
    if run is None:
        raise TaskUnavailableError(f"medfed.orchestration.model_iteration has no {name}; kind {kind!r} cannot run")
    out_dir.mkdir(parents=True, exist_ok=True)
    result = run(study, params, out_dir)
    if not isinstance(result, dict):
        raise TaskUnavailableError(f"{name} returned {type(result).__name__}, not a dict")
    # Its final scores are the metrics the scheduler checks; NaN becomes null as in results.json.
    return _plain({"metrics": result.get("final"), **result})


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
