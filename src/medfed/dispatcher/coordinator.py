"""The dispatcher's study logic as a sans-IO state machine.

It consumes events (a node joined or left, an update or failure arrived, time
passed) and returns actions (send this message to that node, a round closed, the
study ended). It never touches a socket, a thread or a clock of its own, so every
path — a node dying at any moment, a poisoned update, a timeout — is testable
without a network, and the same object runs in simulation and behind gRPC.

Integrity faults (standard 5.5.1.1e) are named per round in ``RoundRecord.faults``: a Shamir
share off its polynomial or a masked vector that misses its commitment (secure aggregation,
found by :class:`SecureRound`), or an encrypted update whose ciphertexts are not a fresh
encryption under the study's key (checked on arrival). Policy: what the node sent is excluded
from the round in which the fault was found (its update, masked vector or shares; the round goes
on while ``min_nodes`` remain) and the node takes part again in the next round; the ledger gets
one anomaly entry per fault naming the node and the finding. One exception, by construction: a
node named for wrong unmasking shares has its masked input already inside the sum, and it stays
there (removing it would expose it); only its shares are left out.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from medfed.aggregation import ClientReply, Strategy, validate_update
from medfed.aggregation.sealed import chunks_of, is_sealed, sealed_sum, vector_size
from medfed.aggregation.secure import apply_weighted_sum
from medfed.core.messages import (
    Ack,
    Arrays,
    NodeFailure,
    NodeUpdate,
    RelayMessage,
    SecAggMessage,
    StudyEnd,
    TrainTask,
)
from medfed.dispatcher.checkpoint import Checkpoint, CheckpointError
from medfed.dispatcher.extractors import ExtractorCheck
from medfed.dispatcher.secure_round import SecureRound, secure_settings
from medfed.dispatcher.strategy_state import load_strategy_state, strategy_state
from medfed.errors import DataError, MedfedError, ProtocolError
from medfed.privacy.he import VectorScheme
from medfed.privacy.he.integrity import check_fresh_update


class Phase(enum.Enum):
    WAITING = "waiting"
    TRAINING = "training"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Send:
    node: str
    message: TrainTask | StudyEnd | SecAggMessage | RelayMessage


@dataclass
class RoundRecord:
    """What happened in one round; per-node reasons for every node that did not count."""

    round: int
    participants: list[str]
    started_at: float
    closed_at: float | None = None
    accepted: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    train_seconds: dict[str, float] = field(default_factory=dict)
    epsilon: dict[str, float] = field(default_factory=dict)  # as each hospital accounted it
    faults: dict[str, str] = field(default_factory=dict)  # node -> what the integrity checks found

    @property
    def seconds(self) -> float:
        return (self.closed_at or self.started_at) - self.started_at

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RoundRecord:
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})


@dataclass(frozen=True)
class RoundClosed:
    record: RoundRecord
    # The coordinator's state right after the round was committed; None when it failed.
    committed: Checkpoint | None = None


@dataclass(frozen=True)
class FeaturesRefused:
    """The parties extract different features (5.3.2d): the study does not start."""

    suspects: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class StudyFinished:
    ok: bool
    reason: str


Action = Send | RoundClosed | StudyFinished | FeaturesRefused
# hospital -> its valid data-use grant (hex); raises MedfedError with the reason. Grants expire
# in wall-clock time, so the check keeps its own clock rather than the coordinator's monotonic one.
ConsentCheck = Callable[[str], str]


@dataclass(frozen=True)
class StudyPlan:
    study_id: str
    rounds: int
    expected_nodes: tuple[str, ...]
    min_nodes: int
    base_config: Mapping[str, Any]
    round_timeout: float
    join_timeout: float
    secure: dict[str, Any] | None = None  # {"threshold": t or 0, "clip": ..., ...}: secure aggregation on


class Coordinator:
    """Runs the rounds of one study. All methods take ``now`` (seconds, any monotonic origin)."""

    def __init__(
        self,
        plan: StudyPlan,
        strategy: Strategy,
        initial_params: Arrays,
        *,
        now: float,
        sealer: VectorScheme | None = None,
        consent: ConsentCheck | None = None,
    ):
        """``sealer``: the study's homomorphic scheme (public key only) when updates are encrypted;
        the global model is then ciphertext from the end of round 1 on. ``consent``: returns a
        hospital's valid data-use grant (hex) or raises MedfedError with the reason; checked before
        the first round and again before every round, so a revoked grant stops the next one."""
        self.plan = plan
        self.sealer = sealer
        self.consent = consent
        self._grants: dict[str, str] = {}
        self._refusals: dict[str, str] = {}
        self.strategy = strategy
        self.global_params: Arrays = initial_params
        self.phase = Phase.WAITING
        self.reason = ""
        self.history: list[RoundRecord] = []
        self.connected: set[str] = set()
        self._created_at = now
        self._current: RoundRecord | None = None
        self._replies: dict[str, ClientReply] = {}
        self._configs: dict[str, dict[str, Any]] = {}
        self._secure: SecureRound | None = None
        self._stage_opened = 0.0
        self.extractors = ExtractorCheck()
        self.resumed_from: int | None = None  # the last committed round a restart resumed after
        # Values in a fresh encrypted update (the model's float values and the weight).
        self._sealed_size = None if is_sealed(initial_params) else vector_size(initial_params)

    # ---- checkpoints ----------------------------------------------------------------------
    def checkpoint(self) -> Checkpoint:
        """The state after the last committed round (round 0: nothing committed yet)."""
        return Checkpoint(
            study_id=self.plan.study_id,
            round=len(self.history),
            params=dict(self.global_params),
            strategy_state=strategy_state(self.strategy),
            history=[r.to_dict() for r in self.history],
        )

    def resume(self, saved: Checkpoint) -> None:
        """Carry on after the round ``saved`` committed; a round open at the crash is re-run.

        CheckpointError if ``saved`` belongs to another study or does not fit its model.
        """
        if self.phase is not Phase.WAITING or self.history:
            raise CheckpointError("a coordinator can resume only before its first round")
        if saved.study_id != self.plan.study_id:
            raise CheckpointError(f"the checkpoint is for study {saved.study_id!r}, not {self.plan.study_id!r}")
        if len(saved.history) != saved.round:
            raise CheckpointError(f"the checkpoint of round {saved.round} holds {len(saved.history)} round record(s)")
        if not is_sealed(saved.params):
            # A sealed (encrypted) model has its own framing; a plain one must fit the study's model.
            mismatch = sorted(set(saved.params) ^ set(self.global_params))
            mismatch += sorted(
                k for k in set(saved.params) & set(self.global_params)
                if saved.params[k].shape != self.global_params[k].shape
            )
            if mismatch and not is_sealed(self.global_params):
                raise CheckpointError(f"the checkpoint's model does not fit the study's model: {mismatch[:5]}")
        try:
            load_strategy_state(self.strategy, saved.strategy_state)
        except (ValueError, TypeError, KeyError) as exc:
            raise CheckpointError(f"the checkpoint's strategy state cannot be restored: {exc}") from None
        self.global_params = dict(saved.params)
        self.history = [RoundRecord.from_dict(r) for r in saved.history]
        self.resumed_from = saved.round
        if saved.round >= self.plan.rounds:
            self.phase = Phase.DONE  # finished before the restart: joining nodes are told so

    # ---- feature extraction (5.3.2d) --------------------------------------------------------
    def node_reported(self, node: str, signatures: list[str], *, now: float) -> list[Action]:
        """A node's feature-extractor signatures, reported before it joins."""
        if node not in self.plan.expected_nodes:
            raise ProtocolError(f"{node} is not a data party of study {self.plan.study_id}")
        self.extractors.report(node, signatures)
        return []

    @property
    def current_round(self) -> int | None:
        return self._current.round if self._current is not None else None

    # ---- events -------------------------------------------------------------------------
    def node_joined(self, node: str, *, now: float) -> list[Action]:
        if node not in self.plan.expected_nodes:
            raise ProtocolError(f"{node} is not a data party of study {self.plan.study_id}")
        self.connected.add(node)
        if self.phase is Phase.WAITING and self.connected >= set(self.plan.expected_nodes):
            if self._consented(self.plan.expected_nodes, now) >= set(self.plan.expected_nodes):
                return self._start_round(now)
            return []
        if self.phase is Phase.TRAINING and node in self._pending():
            if self._secure is not None:
                # Its protocol secrets died with the old connection: it rejoins next round.
                return self._drop(node, "reconnected during secure aggregation", now)
            # A node that reconnects while it owes an update gets its task again.
            return [Send(node, self._task_for(node))]
        if self.phase in (Phase.DONE, Phase.FAILED):
            return [Send(node, StudyEnd(self.plan.study_id, self.phase is Phase.DONE, self.reason))]
        return []

    def node_left(self, node: str, *, now: float) -> list[Action]:
        self.connected.discard(node)
        return self._drop(node, "disconnected during the round", now)

    def update_received(self, update: NodeUpdate, *, now: float) -> tuple[Ack, list[Action]]:
        current = self._current
        if self.phase is not Phase.TRAINING or current is None:
            return Ack(False, ProtocolError.code, "no round is open"), []
        if update.study_id != self.plan.study_id or update.round != current.round:
            return Ack(
                False,
                ProtocolError.code,
                f"update for {update.study_id} round {update.round}; "
                f"open is {self.plan.study_id} round {current.round}",
            ), []
        if self._secure is not None:
            return Ack(
                False,
                ProtocolError.code,
                f"round {current.round} is securely aggregated: a plain update is refused",
            ), []
        if update.node not in self._pending():
            return Ack(False, ProtocolError.code, f"{update.node} has no pending task in round {current.round}"), []
        reply = ClientReply(update.node, update.params, update.num_samples, dict(update.metrics))
        try:
            if self.sealer is not None:
                self._check_ciphertexts(update.node, update.params)
                self._check_sealed(update.params)
            else:
                validate_update(self.global_params, update.params, node=update.node)
                self.strategy.check_update(self.global_params, reply)
        except MedfedError as exc:
            return Ack(False, exc.code, str(exc)), self._drop(update.node, f"rejected: {exc}", now)
        self._replies[update.node] = reply
        current.train_seconds[update.node] = update.train_seconds
        if "epsilon" in update.metrics:
            current.epsilon[update.node] = update.metrics["epsilon"]
        return Ack(True), self._maybe_close(now)

    def _check_ciphertexts(self, node: str, params: Arrays) -> None:
        """Refuse, and name as a fault, an update that is no fresh encryption under the study's key."""
        if self.sealer is None or self._sealed_size is None:
            return
        try:
            check_fresh_update(self.sealer, chunks_of(params), self._sealed_size)
        except MedfedError as exc:
            self._fault_found(node, f"sent ciphertexts that are not a fresh encryption of its update: {exc}")
            raise

    def _fault_found(self, node: str, finding: str) -> None:
        if self._current is not None and node not in self._current.faults:
            self._current.faults[node] = finding

    def _check_sealed(self, params: Arrays) -> None:
        # Ciphertext cannot be inspected; its framing can, and every update must match.
        chunks = chunks_of(params)
        for other in self._replies.values():
            if len(chunks_of(other.params)) != len(chunks):
                raise ProtocolError(
                    f"encrypted update has {len(chunks)} chunks; others sent {len(chunks_of(other.params))}"
                )

    def secure_received(self, message: SecAggMessage, *, now: float) -> tuple[Ack, list[Action]]:
        """One step of secure aggregation from a node."""
        current, secure = self._current, self._secure
        if self.phase is not Phase.TRAINING or current is None or secure is None:
            return Ack(False, ProtocolError.code, "no securely aggregated round is open"), []
        if message.study_id != self.plan.study_id or message.round != current.round:
            return Ack(False, ProtocolError.code, f"message for round {message.round}; open is {current.round}"), []
        try:
            outgoing = secure.receive(message.node, message)
        except ProtocolError as exc:
            dropped = self._drop(message.node, f"rejected: {exc}", now) if message.node in secure.pending else []
            return Ack(False, exc.code, str(exc)), dropped
        except MedfedError as exc:
            return Ack(False, exc.code, str(exc)), self._fail_round(f"secure aggregation failed: {exc}", now)
        if "epsilon" in message.metrics:
            current.epsilon[message.node] = message.metrics["epsilon"]
        return Ack(True), self._secure_sends(outgoing, now) + self._maybe_close(now)

    def failure_received(self, failure: NodeFailure, *, now: float) -> list[Action]:
        if self._current is None or failure.round != self._current.round:
            return []
        return self._drop(failure.node, f"node failed: {failure.message}", now)

    def abort(self, reason: str, *, now: float) -> list[Action]:
        """End the study now (e.g. the operator stopped the dispatcher); no-op once it ended.

        An open round is closed and recorded, every node it still waited for named with
        the reason, so the record shows where the study stopped.
        """
        if self.phase in (Phase.DONE, Phase.FAILED):
            return []
        if self._current is not None:
            for node in sorted(self._pending()):
                self._current.dropped[node] = f"study aborted: {reason}"
            self._secure = None
            return self._fail_round(f"aborted: {reason}", now)
        return self._fail(reason)

    def tick(self, *, now: float) -> list[Action]:
        if self.phase is Phase.WAITING and self.connected >= set(self.plan.expected_nodes):
            # Waiting for data owners: a grant approved meanwhile starts the study.
            if self._consented(self.plan.expected_nodes, now) >= set(self.plan.expected_nodes):
                return self._start_round(now)
        if self.phase is Phase.WAITING and now - self._created_at >= self.plan.join_timeout:
            ready = self._consented(sorted(self.connected), now)
            if len(ready) >= self.plan.min_nodes:
                return self._start_round(now)
            if self._refusals:
                refused = "; ".join(f"{n}: {why}" for n, why in sorted(self._refusals.items()))
                return self._fail(f"too few hospitals with a valid data-use grant (min_nodes={self.plan.min_nodes}): {refused}")
            missing = sorted(set(self.plan.expected_nodes) - self.connected)
            return self._fail(
                f"only {len(self.connected)} of {len(self.plan.expected_nodes)} nodes joined within "
                f"{self.plan.join_timeout:g} s (min_nodes={self.plan.min_nodes}); missing: {', '.join(missing)}"
            )
        current = self._current
        # Each secure-aggregation stage gets the full timeout from when it opened.
        opened = max(current.started_at, self._stage_opened) if current else 0.0
        if self.phase is Phase.TRAINING and current and now - opened >= self.plan.round_timeout:
            actions: list[Action] = []
            for node in sorted(self._pending()):
                actions += self._drop(node, f"no update within round_timeout={self.plan.round_timeout:g} s", now)
            return actions
        return []

    # ---- internals ----------------------------------------------------------------------
    def _pending(self) -> set[str]:
        if self._current is None:
            return set()
        if self._secure is not None:
            return self._secure.pending
        settled = set(self._replies) | set(self._current.dropped)
        return set(self._current.participants) - settled

    def _drop(self, node: str, why: str, now: float) -> list[Action]:
        if self.phase is not Phase.TRAINING or node not in self._pending():
            return []
        assert self._current is not None
        self._current.dropped[node] = why
        if self._secure is not None:
            try:
                return self._secure_sends(self._secure.drop(node), now) + self._maybe_close(now)
            except MedfedError as exc:
                return self._fail_round(f"secure aggregation failed: {exc}", now)
        return self._maybe_close(now)

    def _secure_sends(self, outgoing: list[tuple[str, SecAggMessage]], now: float) -> list[Action]:
        if outgoing:
            self._stage_opened = now
        actions: list[Action] = []
        for node, message in outgoing:
            if node in self.connected:
                actions.append(Send(node, message))
            elif self._current is not None and self._secure is not None:
                # It left after answering the last stage: nobody would ever hear from it again.
                self._current.dropped[node] = "disconnected during secure aggregation"
                try:
                    actions += self._secure_sends(self._secure.drop(node), now)
                except MedfedError as exc:
                    return actions + self._fail_round(f"secure aggregation failed: {exc}", now)
        return actions

    def _fail_round(self, reason: str, now: float) -> list[Action]:
        current = self._current
        assert current is not None
        current.closed_at = now
        self.history.append(current)
        self._current = None
        self._secure = None
        return [RoundClosed(current)] + self._fail(f"round {current.round}: {reason}")

    def _maybe_close(self, now: float) -> list[Action]:
        current = self._current
        if current is None or self._pending():
            return []
        current.closed_at = now
        secure, self._secure = self._secure, None
        if secure is not None:
            current.accepted = secure.included
            # The dispatcher never sees a node's update or sample count: metrics weigh equally.
            replies = [ClientReply(n, {}, 1, secure.metrics.get(n, {})) for n in current.accepted]
        else:
            current.accepted = sorted(self._replies)
            replies = [self._replies[n] for n in current.accepted]
        if len(replies) < self.plan.min_nodes:
            self.history.append(current)
            self._current = None
            drops = "; ".join(f"{n}: {why}" for n, why in sorted(current.dropped.items()))
            return [RoundClosed(current)] + self._fail(
                f"round {current.round} ended with {len(replies)} accepted update(s), fewer than "
                f"min_nodes={self.plan.min_nodes} ({drops})"
            )
        self.history.append(current)
        self._current = None
        try:
            if secure is not None:
                assert secure.result is not None
                self.global_params = apply_weighted_sum(self.global_params, secure.result)
            elif self.sealer is not None:
                self.global_params = sealed_sum(self.sealer, [r.params for r in replies])
            else:
                self.global_params = self.strategy.aggregate(current.round, self.global_params, replies)
            current.metrics = self.strategy.aggregate_metrics(replies)
        except (MedfedError, ArithmeticError, ValueError, TypeError) as exc:
            return [RoundClosed(current)] + self._fail(f"round {current.round} could not be aggregated: {exc}")
        actions: list[Action] = [RoundClosed(current, committed=self.checkpoint())]
        if current.round >= self.plan.rounds:
            self.phase = Phase.DONE
            return actions + [StudyFinished(True, "")] + self._end_all(True, "")
        return actions + self._start_round(now)

    def _consented(self, nodes: Iterable[str], now: float) -> set[str]:
        """The nodes whose data-use grant is valid now (every node when consent is off)."""
        if self.consent is None:
            return set(nodes)
        ok: set[str] = set()
        for node in nodes:
            try:
                self._grants[node] = self.consent(node)
            except MedfedError as exc:
                self._refusals[node] = str(exc)
                self._grants.pop(node, None)
            else:
                self._refusals.pop(node, None)
                ok.add(node)
        return ok

    def _start_round(self, now: float) -> list[Action]:
        connected = sorted(self.connected)
        try:  # modeling goes on only while every party extracts the same features (5.3.2d)
            self.extractors.check(connected)
        except DataError as exc:
            features: list[Action] = [FeaturesRefused(tuple(self.extractors.suspects), str(exc))]
            return features + self._fail(f"round {len(self.history) + 1} cannot start: {exc}")
        granted = self._consented(connected, now)
        participants = [n for n in connected if n in granted]
        if len(participants) < self.plan.min_nodes:
            refused = "".join(f"; {n}: {self._refusals[n]}" for n in connected if n in self._refusals)
            return self._fail(
                f"{len(participants)} node(s) connected with a valid data-use grant, fewer than "
                f"min_nodes={self.plan.min_nodes}{refused}"
            )
        number = len(self.history) + 1
        self.phase = Phase.TRAINING
        self._current = RoundRecord(round=number, participants=participants, started_at=now)
        for node in connected:
            if node not in granted:  # a grant revoked or expired since the last round
                self._current.dropped[node] = f"no valid data-use grant: {self._refusals.get(node, '')}"
        self._replies = {}
        self._configs = self.strategy.configure_round(number, participants, self.plan.base_config)
        if self.consent is not None:
            for node in participants:
                self._configs[node] = {**self._configs[node], "grant": self._grants[node]}
        if self.plan.secure is not None:
            try:
                # Masked vectors are committed to in the study's suite (SHA-256 unless it names one).
                template = {"commitment": self.plan.secure.get("suite", "intl"), **self.plan.secure}
                settings = secure_settings(template, participants)
            except MedfedError as exc:
                return self._fail_round(f"secure aggregation cannot start: {exc}", now)
            size = 1 + sum(v.size for v in self.global_params.values() if np.issubdtype(v.dtype, np.floating))
            self._secure = SecureRound(
                study_id=self.plan.study_id, round_number=number, settings=settings, vector_size=size,
                on_fault=self._fault_found,
            )
            for node in participants:
                self._configs[node] = {**self._configs[node], "secure_aggregation": settings}
        if self.sealer is not None:
            for node in participants:
                self._configs[node] = {**self._configs[node], "encryption": self.sealer.name}
        return [Send(node, self._task_for(node)) for node in participants]

    def _task_for(self, node: str) -> TrainTask:
        assert self._current is not None
        return TrainTask(self.plan.study_id, self._current.round, self.global_params, self._configs[node])

    def _fail(self, reason: str) -> list[Action]:
        self.phase = Phase.FAILED
        self.reason = reason
        return [StudyFinished(False, reason)] + self._end_all(False, reason)

    def _end_all(self, ok: bool, reason: str) -> list[Action]:
        return [Send(n, StudyEnd(self.plan.study_id, ok, reason)) for n in sorted(self.connected)]

