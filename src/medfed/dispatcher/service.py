"""The dispatcher as a process: the runtime behind the mutual-TLS gRPC endpoint."""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from medfed.core import serde
from medfed.core.config import StudyConfig
from medfed.core.messages import StudyResult
from medfed.dispatcher.checkpoint import CheckpointStore
from medfed.dispatcher.coordinator import ConsentCheck
from medfed.dispatcher.evidence import Evidence
from medfed.dispatcher.handshakes import Handshakes
from medfed.dispatcher.runtime import DispatcherRuntime
from medfed.dispatcher.setup import new_coordinator, new_relay
from medfed.errors import ProtocolError, StudyFailedError, TransportError
from medfed.pki import PeerIdentity
from medfed.privacy.he import VectorScheme
from medfed.transport.server import ServerTLS, start_server

log = logging.getLogger("medfed.dispatcher")

_END = b""  # sentinel on an outbox: close the stream


class DispatcherService:
    """Implements the transport's gateway: one outbox queue per connected node."""

    def __init__(
        self,
        study: StudyConfig,
        *,
        on_round: Callable[[dict[str, Any]], None] | None = None,
        sealer: VectorScheme | None = None,
        consent: ConsentCheck | None = None,
        handshakes: Handshakes | None = None,
        evidence: Evidence | None = None,
        checkpoints: CheckpointStore | None = None,
    ):
        """``handshakes``: require the application-level challenge–response before Join/Submit.
        ``checkpoints``: each committed round is saved there; when it already holds one for this
        study (a restart after a crash), the study resumes at the round after it."""
        self.study = study
        self.handshakes = handshakes
        self._outboxes: dict[str, tuple[int, queue.Queue[bytes]]] = {}
        self._tokens = itertools.count()
        coordinator = (
            new_relay(study, now=time.monotonic())
            if study.vertical is not None
            else new_coordinator(study, now=time.monotonic(), sealer=sealer, consent=consent)
        )
        self.runtime = DispatcherRuntime(
            coordinator, self._deliver, on_round=on_round, evidence=evidence, checkpoints=checkpoints
        )
        saved = checkpoints.latest(study.study_id) if checkpoints is not None and study.vertical is None else None
        if saved is not None:
            self.runtime.resume(saved)
        elif evidence is not None:
            evidence.study_started()
        # One lock for outboxes and study state, so a stale disconnect cannot interleave
        # with the same node's reconnect (re-entrant: the runtime delivers while holding it).
        self._lock = self.runtime.lock

    def _deliver(self, node: str, frame: bytes) -> None:
        with self._lock:
            entry = self._outboxes.get(node)
        if entry is None:
            raise TransportError(f"{node} is not connected")
        entry[1].put(frame)
        if serde.header_of(frame)["type"] == "study_end":
            entry[1].put(_END)

    def join(self, peer: PeerIdentity, is_active: Callable[[], bool]) -> Iterator[bytes]:
        token = next(self._tokens)
        outbox: queue.Queue[bytes] = queue.Queue()
        with self._lock:
            previous = self._outboxes.get(peer.name)
            self._outboxes[peer.name] = (token, outbox)
            if previous is not None:
                previous[1].put(_END)  # a reconnect replaces the old stream
            self.runtime.join(peer.name)
        try:
            while is_active():
                try:
                    frame = outbox.get(timeout=0.5)
                except queue.Empty:
                    continue
                if not frame:
                    return
                yield frame
        finally:
            with self._lock:
                current = self._outboxes.get(peer.name)
                if current is not None and current[0] == token:
                    del self._outboxes[peer.name]
                    self.runtime.leave(peer.name)

    def stop(self, reason: str) -> None:
        """End an unfinished study with ``reason`` (nodes are told) before the server goes down."""
        with self._lock:
            self.runtime.abort(reason)

    def authenticate(self, peer: PeerIdentity, cert_pem: bytes, message: bytes) -> bytes:
        if self.handshakes is None:
            raise ProtocolError("this dispatcher does not run the challenge–response")
        return self.handshakes.step(peer, cert_pem, message)

    def check_authenticated(self, peer: PeerIdentity, cert_pem: bytes) -> None:
        if self.handshakes is not None:
            self.handshakes.check(peer, cert_pem)

    def submit(self, peer: PeerIdentity, frame: bytes) -> bytes:
        return self.runtime.submit(peer.name, frame)

    def fetch_result(self, peer: PeerIdentity, wait_seconds: float) -> bytes:
        wait = min(max(wait_seconds, 0.0), 7 * 24 * 3600.0) if wait_seconds == wait_seconds else 0.0
        if not self.runtime.finished.wait(timeout=wait):
            raise StudyFailedError(f"study {self.study.study_id} has not finished yet")
        summary = self.runtime.summary()
        log.info("result released to %s (%s)", peer.name, peer.role.value)
        return serde.encode(
            StudyResult(
                study_id=self.study.study_id,
                ok=summary["ok"],
                reason=summary["reason"],
                params=self.runtime.coordinator.global_params,
                summary=summary,
            )
        )


def serve(
    service: DispatcherService,
    tls: ServerTLS,
    *,
    host: str,
    port: int,
    stop: threading.Event,
    on_listening: Callable[[int], None] | None = None,
) -> None:
    """Serve the study until ``stop`` is set; timeouts are checked twice a second."""
    study_id = service.study.study_id
    server, bound = start_server(service, tls, study_id=study_id, host=host, port=port)
    log.info("dispatcher for %s listening on %s:%d (mutual TLS)", study_id, host, bound)
    if on_listening is not None:
        on_listening(bound)
    try:
        while not stop.wait(0.5):
            service.runtime.tick()
        service.stop("the dispatcher was stopped before the study ended")
    finally:
        server.stop(grace=2).wait()
