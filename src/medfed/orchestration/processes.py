"""A throw-away deployment on loopback: the dispatcher and each hospital as its own OS process.

The processes talk gRPC over mutual TLS exactly as they would across hospitals;
the result party fetches the final model with its own certificate.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medfed.aggregation.sealed import is_sealed, open_sealed
from medfed.core import serde
from medfed.core.config import StudyConfig
from medfed.core.messages import Arrays, StudyResult
from medfed.dispatcher.setup import initial_params
from medfed.errors import MedfedError, StudyFailedError
from medfed.pki import load_kit
from medfed.privacy.he import load_scheme
from medfed.roles import Role
from medfed.simulation import StudyOutcome
from medfed.transport.client import ClientTLS, DispatcherClient


@dataclass(frozen=True)
class Launch:
    """How to start the parties of one run."""

    study_path: Path
    kits_dir: Path
    data_paths: Mapping[str, Path]
    work_dir: Path
    device: str = "auto"
    node_threads: int = 1
    timeout: float | None = None  # default: join_timeout + rounds x round_timeout + a minute
    grants_path: Path | None = None  # the dispatcher's grant store (default: in its output folder)


def _spawn(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log_path.open("ab") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "medfed", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the child's whole process group (it leads its own session) and reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


class Deployment:
    """Starts, watches and stops the processes of one run."""

    def __init__(self, study: StudyConfig, launch: Launch) -> None:
        self.study = study
        self.launch = launch
        self.logs = launch.work_dir / "logs"
        self.dispatcher: subprocess.Popen[bytes] | None = None
        self.nodes: dict[str, subprocess.Popen[bytes]] = {}
        self.port: int | None = None

    def start_dispatcher(self, *, port: int = 0, wait: bool = True) -> int:
        """Start the dispatcher; with a fixed ``port`` and ``wait=False``, nodes may start alongside."""
        port_file = self.launch.work_dir / "dispatcher.port"
        port_file.unlink(missing_ok=True)
        dispatcher = self.study.by_role(Role.DISPATCHER)[0].name
        self.dispatcher = _spawn(
            [
                "dispatcher",
                "--kit", str(self.launch.kits_dir / dispatcher),
                "--study", str(self.launch.study_path),
                "--port", str(port),
                "--port-file", str(port_file),
                "--out", str(self.launch.work_dir / "dispatcher"),
                *(["--grants", str(self.launch.grants_path)] if self.launch.grants_path else []),
            ],
            self.logs / "dispatcher.log",
        )
        if not wait:
            self.port = port
            return port
        return self.wait_for_dispatcher()

    def wait_for_dispatcher(self) -> int:
        assert self.dispatcher is not None
        port_file = self.launch.work_dir / "dispatcher.port"
        deadline = time.monotonic() + 60
        while not port_file.exists():
            if self.dispatcher.poll() is not None or time.monotonic() > deadline:
                raise StudyFailedError(
                    "the dispatcher did not start:\n" + _tail(self.logs / "dispatcher.log")
                )
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        return self.port

    def start_node(self, name: str, *, kit_dir: Path | None = None, extra: list[str] | None = None) -> subprocess.Popen[bytes]:
        assert self.port is not None, "start the dispatcher first"
        proc = _spawn(
            [
                "node",
                "--kit", str(kit_dir or self.launch.kits_dir / name),
                "--data", str(self.launch.data_paths[name]),
                "--dispatcher", f"127.0.0.1:{self.port}",
                "--device", self.launch.device,
                "--threads", str(self.launch.node_threads),
                "--oplog", str(self.logs / f"{name}.operations.jsonl"),
                *(extra or []),
            ],
            self.logs / f"{name}.log",
        )
        self.nodes[name] = proc
        return proc

    def start_party(self, name: str, data_path: Path | None) -> subprocess.Popen[bytes]:
        """A party of a vertical study (data party with its table, or the arbiter)."""
        assert self.port is not None, "start the dispatcher first"
        args = ["party", "--kit", str(self.launch.kits_dir / name), "--dispatcher", f"127.0.0.1:{self.port}"]
        if data_path is not None:
            args += ["--data", str(data_path)]
        proc = _spawn(args, self.logs / f"{name}.log")
        self.nodes[name] = proc
        return proc

    def result_client(self) -> DispatcherClient:
        result_party = self.study.by_role(Role.RESULT)
        if not result_party:
            raise StudyFailedError("the study names no result party to receive the model")
        kit = load_kit(self.launch.kits_dir / result_party[0].name)
        tls = ClientTLS(kit.key_path.read_bytes(), kit.cert_path.read_bytes(), kit.ca_path.read_bytes())
        return DispatcherClient(f"127.0.0.1:{self.port}", tls)

    def open_result(self, params: Arrays) -> Arrays:
        """The final model in the clear: an encrypted one is opened with the result party's key."""
        if not is_sealed(params):
            return params
        result_party = self.study.by_role(Role.RESULT) or self.study.by_role(Role.DATA)
        kit = load_kit(self.launch.kits_dir / result_party[0].name)
        if kit.he_key_path is None:
            raise StudyFailedError(f"{kit.name} holds no homomorphic key to open the encrypted model")
        return open_sealed(load_scheme(kit.he_key_path.read_bytes()), params, initial_params(self.study))

    def wait_for_result(self, on_round: Callable[[dict[str, Any]], None] | None = None) -> StudyResult:
        """Block until the study ends, reporting each round as the dispatcher logs it."""
        box: dict[str, Any] = {}

        t = self.study.training
        timeout = self.launch.timeout or t.join_timeout + t.rounds * t.round_timeout + 60

        def fetch() -> None:
            try:
                client = self.result_client()
                try:
                    box["frame"] = client.fetch_result(timeout)
                finally:
                    client.close()
            except MedfedError as exc:
                box["error"] = exc

        fetcher = threading.Thread(target=fetch, daemon=True)
        fetcher.start()
        rounds_path = self.launch.work_dir / "dispatcher" / "rounds.jsonl"
        seen = 0
        while fetcher.is_alive():
            fetcher.join(0.2)
            seen = _replay_rounds(rounds_path, seen, on_round)
            if self.dispatcher is not None and self.dispatcher.poll() is not None:
                raise StudyFailedError("the dispatcher exited:\n" + _tail(self.logs / "dispatcher.log"))
        _replay_rounds(rounds_path, seen, on_round)
        if "error" in box:
            raise box["error"]
        result = serde.decode(box["frame"])
        assert isinstance(result, StudyResult)
        return result

    def stop(self) -> None:
        """Nodes end on their own after StudyEnd; the dispatcher is a service and is told to stop."""
        for proc in self.nodes.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _kill(proc)
        if self.dispatcher is not None and self.dispatcher.poll() is None:
            self.dispatcher.send_signal(signal.SIGTERM)
            try:
                self.dispatcher.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _kill(self.dispatcher)

    def kill_all(self) -> None:
        for proc in [*self.nodes.values(), self.dispatcher]:
            if proc is not None:
                _kill(proc)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now (the dispatcher binds it a moment later; loopback only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _replay_rounds(path: Path, seen: int, on_round: Callable[[dict[str, Any]], None] | None) -> int:
    if not path.exists():
        return seen
    text = path.read_text()
    # Only complete lines: the dispatcher may be half-way through writing the last one.
    lines = text[: text.rfind("\n") + 1].splitlines()
    for line in lines[seen:]:
        if on_round is not None and line.strip():
            on_round(json.loads(line))
    return len(lines)


def run_processes(
    study: StudyConfig, launch: Launch, *, on_round: Callable[[dict[str, Any]], None] | None = None
) -> StudyOutcome:
    """Run the whole study as separate processes; raises StudyFailedError with the reason."""
    start = time.perf_counter()
    deployment = Deployment(study, launch)
    try:
        # Every party starts at once; nodes keep retrying until the dispatcher listens.
        deployment.start_dispatcher(port=free_port(), wait=False)
        for name in study.hospitals:
            deployment.start_node(name)
        deployment.wait_for_dispatcher()
        result = deployment.wait_for_result(on_round)
        seconds = time.perf_counter() - start  # the study's time, not the shutdown's
        deployment.stop()
    except BaseException:
        deployment.kill_all()
        raise
    if not result.ok:
        raise StudyFailedError(result.reason)
    return StudyOutcome(deployment.open_result(result.params), result.summary, seconds)
