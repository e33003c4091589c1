"""The dispatcher's state machine, driven by hand: no network, no threads."""

from __future__ import annotations

import numpy as np
import pytest

from medfed.aggregation import FedAvg
from medfed.core.messages import NodeFailure, NodeUpdate, StudyEnd, TrainTask
from medfed.dispatcher.coordinator import (
    Coordinator,
    Phase,
    RoundClosed,
    Send,
    StudyFinished,
    StudyPlan,
)

NODES = ("h1", "h2", "h3")


def _coordinator(*, rounds: int = 2, min_nodes: int = 2) -> Coordinator:
    plan = StudyPlan("s", rounds, NODES, min_nodes, {"lr": 0.1}, round_timeout=60, join_timeout=30)
    return Coordinator(plan, FedAvg(), {"w": np.zeros(3, np.float32)}, now=0.0)


def _update(node: str, rnd: int, value: float, n: int = 10) -> NodeUpdate:
    return NodeUpdate("s", rnd, node, {"w": np.full(3, value, np.float32)}, n, 0.5, {"train_loss": 1.0})


def _tasks(actions: list) -> dict[str, TrainTask]:
    return {a.node: a.message for a in actions if isinstance(a, Send) and isinstance(a.message, TrainTask)}


def _join_all(c: Coordinator) -> list:
    actions: list = []
    for node in NODES:
        actions += c.node_joined(node, now=1.0)
    return actions


@pytest.mark.clause("5.4.2.3e-f")
def test_round_starts_when_all_nodes_join_and_study_finishes_after_last_round() -> None:
    c = _coordinator(rounds=2)
    assert c.node_joined("h1", now=0.5) == []
    tasks = _tasks(_join_all(c))
    assert sorted(tasks) == list(NODES) and all(t.round == 1 for t in tasks.values())
    for i, node in enumerate(NODES):
        ack, actions = c.update_received(_update(node, 1, float(i)), now=2.0)
        assert ack.accepted
    assert sorted(_tasks(actions)) == list(NODES)
    np.testing.assert_allclose(c.global_params["w"], 1.0)
    for node in NODES:
        _, actions = c.update_received(_update(node, 2, 5.0), now=3.0)
    assert any(isinstance(a, StudyFinished) and a.ok for a in actions)
    ends = [a for a in actions if isinstance(a, Send) and isinstance(a.message, StudyEnd)]
    assert len(ends) == 3 and c.phase is Phase.DONE
    assert [r.round for r in c.history] == [1, 2]


@pytest.mark.clause("5.4.2.3e-f")
def test_node_dying_mid_round_lets_the_others_finish_the_round() -> None:
    c = _coordinator(rounds=1, min_nodes=2)
    _join_all(c)
    c.update_received(_update("h1", 1, 1.0), now=2.0)
    actions = c.node_left("h2", now=2.5)
    assert actions == []  # h3 still pending
    _, actions = c.update_received(_update("h3", 1, 3.0), now=3.0)
    closed = [a.record for a in actions if isinstance(a, RoundClosed)][0]
    assert closed.accepted == ["h1", "h3"]
    assert "disconnected" in closed.dropped["h2"]
    np.testing.assert_allclose(c.global_params["w"], 2.0)
    assert c.phase is Phase.DONE


def test_too_few_survivors_fail_the_study_with_a_clear_reason() -> None:
    c = _coordinator(rounds=3, min_nodes=2)
    _join_all(c)
    c.update_received(_update("h1", 1, 1.0), now=2.0)
    c.node_left("h2", now=2.1)
    actions = c.node_left("h3", now=2.2)
    finished = [a for a in actions if isinstance(a, StudyFinished)][0]
    assert not finished.ok
    assert "fewer than min_nodes=2" in finished.reason and "h2" in finished.reason
    assert c.phase is Phase.FAILED
    assert c.global_params["w"].sum() == 0  # nothing aggregated from a failed round


def test_nan_update_is_refused_and_counted_as_dropped() -> None:
    c = _coordinator(rounds=1, min_nodes=2)
    _join_all(c)
    ack, _ = c.update_received(_update("h1", 1, float("nan")), now=2.0)
    assert not ack.accepted and ack.code == "update_rejected" and "NaN" in ack.message
    c.update_received(_update("h2", 1, 2.0), now=2.0)
    _, actions = c.update_received(_update("h3", 1, 4.0), now=2.0)
    record = [a.record for a in actions if isinstance(a, RoundClosed)][0]
    assert record.accepted == ["h2", "h3"] and "NaN" in record.dropped["h1"]
    np.testing.assert_allclose(c.global_params["w"], 3.0)


def test_wrong_shape_stale_and_duplicate_updates_are_refused() -> None:
    c = _coordinator(rounds=2)
    _join_all(c)
    bad = NodeUpdate("s", 1, "h1", {"w": np.zeros(4, np.float32)}, 10, 0.1)
    ack, _ = c.update_received(bad, now=2.0)
    assert not ack.accepted and "shape" in ack.message
    ack, _ = c.update_received(_update("h2", 7, 1.0), now=2.0)
    assert not ack.accepted and "round 7" in ack.message
    assert c.update_received(_update("h2", 1, 1.0), now=2.0)[0].accepted
    ack, _ = c.update_received(_update("h2", 1, 1.0), now=2.0)
    assert not ack.accepted and "no pending task" in ack.message


def test_node_failure_message_drops_only_that_node() -> None:
    c = _coordinator(rounds=1)
    _join_all(c)
    c.failure_received(NodeFailure("s", 1, "h3", "data", "disk full"), now=2.0)
    c.update_received(_update("h1", 1, 1.0), now=2.0)
    _, actions = c.update_received(_update("h2", 1, 1.0), now=2.0)
    record = [a.record for a in actions if isinstance(a, RoundClosed)][0]
    assert record.dropped == {"h3": "node failed: disk full"}


def test_round_timeout_drops_stragglers() -> None:
    c = _coordinator(rounds=1)
    _join_all(c)
    c.update_received(_update("h1", 1, 1.0), now=2.0)
    c.update_received(_update("h2", 1, 1.0), now=2.0)
    assert c.tick(now=30.0) == []
    actions = c.tick(now=61.5)
    record = [a.record for a in actions if isinstance(a, RoundClosed)][0]
    assert "round_timeout" in record.dropped["h3"] and c.phase is Phase.DONE


def test_join_timeout_starts_with_enough_nodes_or_fails_naming_the_missing() -> None:
    c = _coordinator(min_nodes=2)
    c.node_joined("h1", now=1.0)
    c.node_joined("h2", now=1.0)
    assert sorted(_tasks(c.tick(now=31.0))) == ["h1", "h2"]

    c = _coordinator(min_nodes=2)
    c.node_joined("h1", now=1.0)
    finished = [a for a in c.tick(now=31.0) if isinstance(a, StudyFinished)][0]
    assert not finished.ok and "missing: h2, h3" in finished.reason


def test_unknown_node_cannot_join() -> None:
    from medfed.errors import ProtocolError

    with pytest.raises(ProtocolError, match="not a data party"):
        _coordinator().node_joined("intruder", now=0.0)


def test_a_node_that_reconnects_mid_round_gets_its_task_again() -> None:
    c = _coordinator(rounds=1)
    _join_all(c)
    c.update_received(_update("h1", 1, 1.0), now=2.0)
    c.node_left("h2", now=2.1)  # dropped for this round
    actions = c.node_joined("h3", now=2.2)  # h3 never left: a duplicate stream
    assert [a.node for a in actions if isinstance(a, Send)] == ["h3"]
    assert _tasks(actions)["h3"].round == 1
    assert c.node_joined("h2", now=2.3) == []  # h2 is out of this round, in the next


def test_a_failing_aggregation_fails_the_study_instead_of_hanging() -> None:
    class Broken(FedAvg):
        def aggregate(self, round_number, global_params, replies):  # type: ignore[override]
            raise ArithmeticError("overflow")

    plan = StudyPlan("s", 2, NODES, 2, {}, round_timeout=60, join_timeout=30)
    c = Coordinator(plan, Broken(), {"w": np.zeros(3, np.float32)}, now=0.0)
    _join_all(c)
    for node in NODES:
        _, actions = c.update_received(_update(node, 1, 1.0), now=2.0)
    finished = [a for a in actions if isinstance(a, StudyFinished)][0]
    assert not finished.ok and "could not be aggregated: overflow" in finished.reason
    assert c.phase is Phase.FAILED and c.tick(now=100.0) == []
