"""The dispatcher as a relay for multi-party protocols (vertical training, PSI), sans-IO.

Hospitals and the arbiter connect out to the dispatcher only, so their protocol
messages pass through it. The dispatcher starts the protocol once every party has
joined, forwards each message to its recipient, counts the bytes per iteration
(``round`` of the message), and ends the study when the result party reports
``done`` with the aggregate metrics. It never reads a message's body: what it could
see is whatever the protocol sends in the clear, which the protocol keeps to
ciphertexts and masked values.

A protocol's state lives in the parties' memory, so a party that leaves or reconnects
mid-protocol ends the study with the reason; it is not resumed.
"""

from __future__ import annotations

from typing import Any

from medfed.core.messages import (
    Ack,
    Arrays,
    NodeFailure,
    NodeUpdate,
    RelayMessage,
    SecAggMessage,
    StudyEnd,
)
from medfed.dispatcher.coordinator import (
    Action,
    Phase,
    RoundClosed,
    RoundRecord,
    Send,
    StudyFinished,
)
from medfed.errors import ProtocolError

DISPATCHER = "dispatcher"


class RelayCoordinator:
    """Starts, relays and ends one multi-party protocol. Methods take ``now`` in seconds."""

    def __init__(
        self,
        study_id: str,
        parties: tuple[str, ...],
        *,
        result_party: str,
        now: float,
        join_timeout: float,
        idle_timeout: float,
        start_body: dict[str, Any] | None = None,
    ) -> None:
        if result_party not in parties:
            raise ProtocolError(f"result party {result_party} is not among the parties {parties}")
        self.study_id = study_id
        self.parties = parties
        self.result_party = result_party
        self.join_timeout = join_timeout
        self.idle_timeout = idle_timeout
        self.start_body = dict(start_body or {})
        self.phase = Phase.WAITING
        self.reason = ""
        self.result: dict[str, Any] = {}
        self.global_params: Arrays = {}
        self.connected: set[str] = set()
        self.history: list[RoundRecord] = []
        self._created_at = now
        self._last_message = now
        self._current: RoundRecord | None = None

    @property
    def current_round(self) -> int | None:
        return self._current.round if self._current is not None else None

    # ---- events -------------------------------------------------------------------------
    def node_joined(self, node: str, *, now: float) -> list[Action]:
        if node not in self.parties:
            raise ProtocolError(f"{node} is not a party of study {self.study_id}")
        if self.phase in (Phase.DONE, Phase.FAILED):
            return [Send(node, StudyEnd(self.study_id, self.phase is Phase.DONE, self.reason))]
        if self.phase is Phase.TRAINING:
            self.connected.add(node)
            return self._fail(f"{node} reconnected mid-protocol; its protocol state is lost", now)
        self.connected.add(node)
        if self.connected >= set(self.parties):
            self.phase = Phase.TRAINING
            self._last_message = now
            self._open(0, now)
            body = {**self.start_body, "parties": list(self.parties)}
            return [
                Send(p, RelayMessage(self.study_id, 0, DISPATCHER, p, "start", body, {})) for p in self.parties
            ]
        return []

    def node_left(self, node: str, *, now: float) -> list[Action]:
        self.connected.discard(node)
        if self.phase is Phase.TRAINING:
            return self._fail(f"{node} left mid-protocol", now)
        return []

    def relay_received(self, message: RelayMessage, *, now: float) -> tuple[Ack, list[Action]]:
        if self.phase is not Phase.TRAINING:
            return Ack(False, ProtocolError.code, "no protocol is running"), []
        if message.study_id != self.study_id:
            return Ack(False, ProtocolError.code, f"message for study {message.study_id}"), []
        if message.recipient != DISPATCHER and message.recipient not in self.parties:
            return Ack(False, ProtocolError.code, f"unknown recipient {message.recipient!r}"), []
        self._last_message = now
        actions: list[Action] = []
        current = self._current
        if current is not None and message.round > current.round:
            actions += self._close(now)
            self._open(message.round, now)
        if self._current is not None and message.node not in self._current.accepted:
            self._current.accepted.append(message.node)
        if message.recipient == DISPATCHER:
            if message.kind == "done" and message.node == self.result_party:
                self.result = dict(message.body)
                actions += self._close(now)
                self.phase = Phase.DONE
                return Ack(True), actions + [StudyFinished(True, "")] + self._end_all(True, "")
            return Ack(False, ProtocolError.code, f"{message.kind!r} from {message.node} is not for the dispatcher"), actions
        if message.recipient not in self.connected:
            return Ack(True), actions + self._fail(f"{message.recipient} is not connected", now)
        return Ack(True), actions + [Send(message.recipient, message)]

    def update_received(self, update: NodeUpdate, *, now: float) -> tuple[Ack, list[Action]]:
        return Ack(False, ProtocolError.code, "this study relays protocol messages; updates are refused"), []

    def secure_received(self, message: SecAggMessage, *, now: float) -> tuple[Ack, list[Action]]:
        return Ack(False, ProtocolError.code, "this study relays protocol messages only"), []

    def failure_received(self, failure: NodeFailure, *, now: float) -> list[Action]:
        if self.phase is not Phase.TRAINING:
            return []
        return self._fail(f"{failure.node} failed: {failure.message}", now)

    def abort(self, reason: str, *, now: float) -> list[Action]:
        if self.phase in (Phase.DONE, Phase.FAILED):
            return []
        return self._fail(reason, now)

    def tick(self, *, now: float) -> list[Action]:
        if self.phase is Phase.WAITING and now - self._created_at >= self.join_timeout:
            missing = sorted(set(self.parties) - self.connected)
            return self._fail(f"parties missing after {self.join_timeout:g} s: {', '.join(missing)}", now)
        if self.phase is Phase.TRAINING and now - self._last_message >= self.idle_timeout:
            return self._fail(f"no protocol message for {self.idle_timeout:g} s", now)
        return []

    # ---- internals ----------------------------------------------------------------------
    def _open(self, number: int, now: float) -> None:
        self._current = RoundRecord(round=number, participants=list(self.parties), started_at=now)

    def _close(self, now: float) -> list[Action]:
        current, self._current = self._current, None
        if current is None:
            return []
        current.closed_at = now
        self.history.append(current)
        return [RoundClosed(current)]

    def _fail(self, reason: str, now: float) -> list[Action]:
        actions = self._close(now)
        self.phase = Phase.FAILED
        self.reason = reason
        return actions + [StudyFinished(False, reason)] + self._end_all(False, reason)

    def _end_all(self, ok: bool, reason: str) -> list[Action]:
        return [Send(n, StudyEnd(self.study_id, ok, reason)) for n in sorted(self.connected)]
