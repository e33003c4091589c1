"""Malicious nodes inside a securely aggregated round, driven through the coordinator by hand.

Each adversary runs the real node session with protocol-level fault injection; the coordinator
must name it in the round record (5.5.1.1e) and the sum must be the documented one.
"""

from __future__ import annotations

import numpy as np
import pytest

from medfed.aggregation import FedAvg
from medfed.core.config import AdversaryConfig, Behaviour, DropoutStage, FaultTarget
from medfed.core.messages import SecAggMessage, TrainTask
from medfed.dispatcher.coordinator import Coordinator, Send, StudyFinished, StudyPlan
from medfed.dispatcher.secure_round import secure_settings
from medfed.node.adversary import FaultRecord, ProtocolTamper, SimulatedDropout
from medfed.node.secure import SecureSession

NODES = ("h1", "h2", "h3", "h4", "h5")
GLOBAL = {"w": np.zeros(6, np.float32)}
UPDATES = {n: np.linspace(-0.2, 0.3, 6).astype(np.float32) * (i + 1) for i, n in enumerate(NODES)}
WEIGHTS = {n: 10 * (i + 1) for i, n in enumerate(NODES)}
ADVERSARY = "h3"


def _round(adversary: AdversaryConfig | None, *, suite: str | None = "intl"):
    """One round of five nodes (threshold 3); returns the coordinator, the injections and the end."""
    secure = {"threshold": 3, **({"suite": suite} if suite else {})}
    plan = StudyPlan("s", 1, NODES, 3, {}, round_timeout=60, join_timeout=30, secure=secure)
    c = Coordinator(plan, FedAvg(), dict(GLOBAL), now=0.0)
    actions = [a for node in NODES for a in c.node_joined(node, now=0.0)]
    sessions: dict[str, SecureSession] = {}
    injected: list[FaultRecord] = []
    finished = None
    while True:
        outgoing = [a for a in actions if isinstance(a, Send)]
        finished = next((a for a in actions if isinstance(a, StudyFinished)), finished)
        if not outgoing or finished:
            break
        actions = []
        for send in outgoing:
            node, message = send.node, send.message
            if isinstance(message, TrainTask):
                tamper = None
                if adversary is not None and node == ADVERSARY:
                    tamper = ProtocolTamper(adversary, node=node, round_number=1, on_record=injected.append)
                sessions[node] = SecureSession(
                    study_id="s", round_number=1, node=node, settings=message.config["secure_aggregation"],
                    new={"w": UPDATES[node]}, old=message.params, weight=WEIGHTS[node], tamper=tamper,
                )
                reply = sessions[node].advertise({"train_loss": 1.0})
            elif isinstance(message, SecAggMessage):
                try:
                    reply = sessions[node].respond(message)
                except SimulatedDropout:  # the node is gone, as its failure report tells the dispatcher
                    actions += c.node_left(node, now=1.0)
                    continue
            else:
                continue
            actions += c.secure_received(reply, now=1.0)[1]
    return c, injected, finished


def _mean(included) -> np.ndarray:
    total = sum(WEIGHTS[n] for n in included)
    return sum(WEIGHTS[n] * UPDATES[n].astype(np.float64) for n in included) / total


def _random(target: FaultTarget) -> AdversaryConfig:
    return AdversaryConfig(nodes=(ADVERSARY,), behaviour=Behaviour.RANDOM_FACTORS, target=target, fraction=0.5)


def test_a_clean_round_names_no_fault_and_checks_every_commitment() -> None:
    c, injected, finished = _round(None)
    record = c.history[0]
    assert finished is not None and finished.ok
    assert record.faults == {} and injected == []
    assert record.accepted == list(NODES)
    np.testing.assert_allclose(c.global_params["w"], _mean(NODES), atol=2e-4)


@pytest.mark.clause("5.5.1.1e")
def test_random_shares_are_named_and_left_out_and_the_sum_keeps_the_honest_inputs() -> None:
    c, injected, finished = _round(_random(FaultTarget.SHARES))
    record = c.history[0]
    assert finished is not None and finished.ok
    assert [(r.node, r.target) for r in injected] == [(ADVERSARY, "shares")]
    assert set(record.faults) == {ADVERSARY}
    assert "Shamir share" in record.faults[ADVERSARY]
    # Documented policy: only its shares are left out; its masked input was honest and was
    # already in the sum, so the sum is that of all five honestly computed updates.
    np.testing.assert_allclose(c.global_params["w"], _mean(NODES), atol=2e-4)


@pytest.mark.clause("5.5.1.1e")
def test_a_masked_vector_swapped_after_its_commitment_is_caught_and_excluded() -> None:
    c, injected, finished = _round(_random(FaultTarget.MASKED))
    record = c.history[0]
    assert finished is not None and finished.ok
    assert [(r.node, r.target) for r in injected] == [(ADVERSARY, "masked")] and injected[0].values_changed > 0
    assert "commitment" in record.faults[ADVERSARY] and set(record.faults) == {ADVERSARY}
    assert ADVERSARY in record.dropped and ADVERSARY not in record.accepted
    honest = [n for n in NODES if n != ADVERSARY]
    np.testing.assert_allclose(c.global_params["w"], _mean(honest), atol=2e-4)


@pytest.mark.clause("5.5.1.1e")
def test_garbage_committed_to_is_not_detectable_by_the_commitment() -> None:
    # Documented limit: the commitment binds a node to its vector, not the vector to an honest input.
    c, injected, finished = _round(_random(FaultTarget.COMMITTED_MASKED))
    record = c.history[0]
    assert [(r.node, r.target) for r in injected] == [(ADVERSARY, "masked")]
    assert record.faults == {} and ADVERSARY not in record.dropped
    if finished is not None and finished.ok:  # the garbage went into the sum unnoticed
        assert not np.allclose(c.global_params["w"], _mean(NODES), atol=1e-2)


def test_the_commitment_uses_the_suite_the_study_names() -> None:
    assert "commitment" not in secure_settings({"threshold": 3}, list(NODES))  # asked for only when named
    assert secure_settings({"commitment": "gm"}, list(NODES))["commitment"] == "gm"
    c, _, finished = _round(_random(FaultTarget.MASKED), suite="gm")  # SM3 commitments
    assert set(c.history[0].faults) == {ADVERSARY} and finished is not None and finished.ok


def test_a_share_keys_message_without_its_commitment_is_refused() -> None:
    plan = StudyPlan("s", 1, NODES, 3, {}, round_timeout=60, join_timeout=30, secure={"threshold": 3})
    c = Coordinator(plan, FedAvg(), dict(GLOBAL), now=0.0)
    tasks = [a for node in NODES for a in c.node_joined(node, now=0.0) if isinstance(a, Send)]
    sessions = {
        t.node: SecureSession(
            study_id="s", round_number=1, node=t.node, settings=t.message.config["secure_aggregation"],
            new={"w": UPDATES[t.node]}, old=t.message.params, weight=1,
        )
        for t in tasks
    }
    rosters: list[Send] = []
    for session in sessions.values():
        rosters += [a for a in c.secure_received(session.advertise({}), now=1.0)[1] if isinstance(a, Send)]
    roster = next(s for s in rosters if s.node == "h1")
    reply = sessions["h1"].respond(roster.message)
    body = {k: v for k, v in reply.body.items() if k != "commitment"}
    bare = SecAggMessage(reply.study_id, reply.round, reply.node, reply.stage, body, {})
    ack, _ = c.secure_received(bare, now=1.0)
    assert not ack.accepted and "commitment" in ack.message
    assert "h1" in c._current.dropped  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("stage", "included"),
    [
        (DropoutStage.AFTER_KEY_SHARING, False),  # no masked vector: its input is not in the sum
        (DropoutStage.AFTER_MASKING, True),  # its masked vector is in: the others reveal its self-mask
        (DropoutStage.DURING_UNMASKING, True),
    ],
)
def test_a_dropout_adversary_leaves_at_its_stage_and_the_round_goes_on(stage, included) -> None:
    adversary = AdversaryConfig(nodes=(ADVERSARY,), behaviour=Behaviour.DROPOUT, stage=stage)
    c, injected, finished = _round(adversary)
    record = c.history[0]
    assert finished is not None and finished.ok
    assert [(r.node, r.target) for r in injected] == [(ADVERSARY, "dropout")]
    assert ADVERSARY in record.dropped and record.faults == {}
    expected = list(NODES) if included else [n for n in NODES if n != ADVERSARY]
    np.testing.assert_allclose(c.global_params["w"], _mean(expected), atol=2e-4)
