"""Drives a :class:`Coordinator` for any transport: frames in, frames out, thread-safe.

A transport calls ``join``/``leave``/``submit``/``tick`` and delivers whatever the
``deliver`` callback hands it. The simulation and the gRPC service both use this,
so the study logic is the same in one process and across real hospitals.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from medfed.core import serde
from medfed.core.messages import (
    Ack,
    NodeFailure,
    NodeHello,
    NodeUpdate,
    RelayMessage,
    SecAggMessage,
)
from medfed.dispatcher.checkpoint import Checkpoint, CheckpointStore
from medfed.dispatcher.coordinator import (
    Action,
    Coordinator,
    FeaturesRefused,
    Phase,
    RoundClosed,
    Send,
    StudyFinished,
)
from medfed.dispatcher.evidence import Evidence, update_digest
from medfed.dispatcher.relay import RelayCoordinator
from medfed.dispatcher.traffic import TrafficMeter, totals
from medfed.errors import MedfedError, ProtocolError

log = logging.getLogger("medfed.dispatcher")

Deliver = Callable[[str, bytes], None]
_T = TypeVar("_T")


class DispatcherRuntime:
    def __init__(
        self,
        coordinator: Coordinator | RelayCoordinator,
        deliver: Deliver,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_round: Callable[[dict[str, Any]], None] | None = None,
        evidence: Evidence | None = None,
        checkpoints: CheckpointStore | None = None,
    ) -> None:
        """``checkpoints``: where each committed round is persisted, so a restart resumes after it."""
        self.coordinator = coordinator
        self.evidence = evidence
        self.checkpoints = checkpoints
        self._digests: dict[int, dict[str, str]] = {}
        self._deliver = deliver
        self._clock = clock
        self.lock = threading.RLock()
        self._on_round = on_round
        self.traffic = TrafficMeter()
        self.rounds: list[dict[str, Any]] = []
        self.finished = threading.Event()
        self.started_at = clock()

    def resume(self, saved: Checkpoint) -> None:
        """Carry on after the committed round of ``saved`` (a restart after a crash).

        The per-round history comes back with it, so ``results.json`` lists every round once;
        the ledger records the restart. CheckpointError if it does not fit the study.
        """
        if not isinstance(self.coordinator, Coordinator):
            raise ProtocolError("only a horizontal study's coordinator resumes from a checkpoint")
        with self.lock:
            self.coordinator.resume(saved)
            self.rounds = [dict(r) for r in saved.rounds]
            log.warning(
                "resumed at round %d: round %d of study %s was committed before the restart",
                saved.round + 1, saved.round, saved.study_id,
            )
            self._notarise(Evidence.resumed, saved.round)
            if self.coordinator.phase is Phase.DONE:
                log.info("study %s had already finished before the restart", saved.study_id)
                self.finished.set()

    # ---- transport-facing events ----------------------------------------------------------
    def join(self, node: str) -> None:
        with self.lock:
            log.info("node %s joined", node)
            self._apply(self.coordinator.node_joined(node, now=self._clock()))

    def leave(self, node: str) -> None:
        with self.lock:
            if node in self.coordinator.connected:
                log.warning("node %s left", node)
            self._apply(self.coordinator.node_left(node, now=self._clock()))

    def submit(self, node: str, frame: bytes) -> bytes:
        """Handle one frame from ``node``; returns the encoded acknowledgement."""
        with self.lock:
            now = self._clock()
            try:
                message = serde.decode(frame)
            except ProtocolError as exc:
                log.warning("malformed frame from %s: %s", node, exc)
                return serde.encode(Ack(False, exc.code, str(exc)))
            # Bytes count toward the open round only: a forged round number must not grow the meter.
            current = self.coordinator.current_round
            claimed = getattr(message, "round", None)
            round_number = claimed if claimed == current else None
            self.traffic.from_node(round_number, node, len(frame), now=now)
            actions: list[Action] = []
            if getattr(message, "node", node) != node:
                ack = Ack(False, ProtocolError.code, f"authenticated as {node}, message claims {message.node}")  # type: ignore[union-attr]
            elif isinstance(message, NodeUpdate):
                ack, actions = self.coordinator.update_received(message, now=now)
                if not ack.accepted:
                    log.warning("update from %s refused: %s", node, ack.message)
                elif self.evidence is not None:
                    self._digests.setdefault(message.round, {})[node] = update_digest(self.evidence.suite, frame)
            elif isinstance(message, SecAggMessage):
                ack, actions = self.coordinator.secure_received(message, now=now)
                if not ack.accepted:
                    log.warning("secure-aggregation step from %s refused: %s", node, ack.message)
            elif isinstance(message, RelayMessage) and isinstance(self.coordinator, RelayCoordinator):
                ack, actions = self.coordinator.relay_received(message, now=now)
                if not ack.accepted:
                    log.warning("protocol message from %s refused: %s", node, ack.message)
            elif isinstance(message, NodeHello) and isinstance(self.coordinator, Coordinator):
                if message.study_id != self.coordinator.plan.study_id:
                    ack = Ack(False, ProtocolError.code, f"hello for study {message.study_id!r}")
                else:
                    log.info("node %s reports %d feature extractor(s)", node, len(message.signatures))
                    actions = self.coordinator.node_reported(node, message.signatures, now=now)
                    ack = Ack(True)
            elif isinstance(message, NodeFailure):
                log.warning("node %s failed round %s: %s", node, message.round, message.message)
                actions = self.coordinator.failure_received(message, now=now)
                ack = Ack(True)
            else:
                ack = Ack(False, ProtocolError.code, f"{type(message).__name__} is not accepted from nodes")
            reply = serde.encode(ack)
            # The acknowledgement belongs to this round even when it closes the round.
            self.traffic.to_node(round_number, node, len(reply), now=now)
            self._apply(actions)
            return reply

    def abort(self, reason: str) -> None:
        with self.lock:
            self._apply(self.coordinator.abort(reason, now=self._clock()))

    def tick(self) -> None:
        with self.lock:
            self._apply(self.coordinator.tick(now=self._clock()))

    # ---- results --------------------------------------------------------------------------
    @property
    def phase(self) -> Phase:
        return self.coordinator.phase

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {
                "ok": self.coordinator.phase is Phase.DONE,
                "reason": self.coordinator.reason,
                "rounds": list(self.rounds),
                "totals": totals(self.rounds),
                **({"result": self.coordinator.result} if isinstance(self.coordinator, RelayCoordinator) else {}),
            }

    # ---- internals ------------------------------------------------------------------------
    def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                frame = serde.encode(action.message)
                number = getattr(action.message, "round", None)
                self.traffic.to_node(number, action.node, len(frame), now=self._clock())
                try:
                    self._deliver(action.node, frame)
                except MedfedError as exc:  # the node is gone; the coordinator learns via leave()
                    log.warning("could not deliver to %s: %s", action.node, exc)
            elif isinstance(action, RoundClosed):
                self._record_round(action)
                for node, finding in sorted(action.record.faults.items()):
                    log.error("round %d: integrity fault at %s: %s", action.record.round, node, finding)
                    self._notarise(Evidence.fault_detected, action.record.round, node, finding)
                digests = self._digests.pop(action.record.round, {})
                digest = self._notarise(Evidence.round_closed, action.record, digests)
                if action.committed is not None:
                    self._save_checkpoint(action.committed, digest or "")
            elif isinstance(action, FeaturesRefused):
                log.error("feature extractors differ: %s", action.reason)
                self._notarise(Evidence.features_refused, action.suspects, action.reason)
            elif isinstance(action, StudyFinished):
                if action.ok:
                    metrics = self.rounds[-1]["metrics"] if self.rounds else {}
                    self._notarise(Evidence.result, self.coordinator.global_params, metrics)
                if action.ok:
                    log.info("study finished")
                else:
                    log.error("study failed: %s", action.reason)
                self.finished.set()

    def _notarise(self, record: Callable[..., _T], *args: Any) -> _T | None:
        """``record(evidence, *args)``; None when there is no ledger or it could not be written."""
        if self.evidence is None:
            return None
        try:
            return record(self.evidence, *args)
        except (MedfedError, OSError) as exc:  # evidence must not stop the study; the audit will show the gap
            log.error("could not record evidence: %s", exc)
            return None

    def _save_checkpoint(self, committed: Checkpoint, digest: str) -> None:
        """Persist the round just committed; after the evidence, so a resume never re-records it."""
        if self.checkpoints is None:
            return
        checkpoint = dataclasses.replace(
            committed, rounds=[dict(r) for r in self.rounds], evidence_digest=digest, saved_at=time.time()
        )
        try:
            self.checkpoints.save(checkpoint)
        except (MedfedError, OSError) as exc:  # keep coordinating; a restart would re-run this round
            log.error("could not checkpoint round %d: %s", committed.round, exc)
        else:
            log.info("checkpoint: round %d committed", committed.round)

    def _record_round(self, closed: RoundClosed) -> None:
        record = closed.record
        entry = self.traffic.round_summary(record.round, record.seconds)
        entry["participants"] = record.participants
        entry["accepted"] = record.accepted
        entry["dropped"] = record.dropped
        entry["metrics"] = record.metrics
        entry["train_seconds"] = record.train_seconds
        entry["epsilon"] = record.epsilon
        entry["faults"] = record.faults
        self.rounds.append(entry)
        log.info(
            "round %d closed in %.2f s: %d accepted, %d dropped",
            record.round, record.seconds, len(record.accepted), len(record.dropped),
        )
        if self._on_round is not None:
            try:
                self._on_round(entry)
            except OSError as exc:  # e.g. a full disk: keep coordinating, say so
                log.error("could not record round %d: %s", record.round, exc)

