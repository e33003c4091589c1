"""The dispatcher relaying a multi-party protocol (vertical training): sans-IO, no network."""

from __future__ import annotations

import numpy as np
import pytest

from medfed.core.messages import Ack, NodeFailure, RelayMessage, StudyEnd
from medfed.dispatcher.coordinator import Phase, RoundClosed, Send, StudyFinished
from medfed.dispatcher.relay import RelayCoordinator

PARTIES = ("guest", "host", "arbiter")


def _relay(**kw: float) -> RelayCoordinator:
    return RelayCoordinator(
        "s1", PARTIES, result_party="guest", now=0.0,
        join_timeout=kw.get("join_timeout", 10.0), idle_timeout=kw.get("idle_timeout", 5.0),
    )


def _started() -> RelayCoordinator:
    relay = _relay()
    for p in PARTIES:
        relay.node_joined(p, now=0.0)
    return relay


def _msg(sender: str, recipient: str, kind: str = "step", round: int = 1) -> RelayMessage:
    return RelayMessage("s1", round, sender, recipient, kind, {"k": 1}, {"c": np.zeros(4, np.uint8)})


@pytest.mark.clause("5.4.2.3d")
def test_protocol_starts_once_every_party_including_the_arbiter_joined() -> None:
    relay = _relay()
    assert relay.node_joined("guest", now=0.0) == []
    assert relay.node_joined("host", now=0.0) == []
    actions = relay.node_joined("arbiter", now=0.0)
    starts = [a for a in actions if isinstance(a, Send)]
    assert sorted(a.node for a in starts) == sorted(PARTIES)
    assert all(isinstance(a.message, RelayMessage) and a.message.kind == "start" for a in starts)
    assert starts[0].message.body["parties"] == list(PARTIES)  # type: ignore[union-attr]
    assert relay.phase is Phase.TRAINING


@pytest.mark.clause("5.4.2.3e-f")
def test_a_message_is_forwarded_unchanged_to_its_recipient_only() -> None:
    relay = _started()
    message = _msg("host", "guest")
    ack, actions = relay.relay_received(message, now=1.0)
    assert ack.accepted
    sends = [a for a in actions if isinstance(a, Send)]
    assert len(sends) == 1 and sends[0].node == "guest" and sends[0].message is message


def test_each_new_iteration_closes_the_previous_one_for_traffic_records() -> None:
    relay = _started()
    relay.relay_received(_msg("host", "guest", round=1), now=1.0)
    _, actions = relay.relay_received(_msg("guest", "arbiter", round=2), now=2.0)
    closed = [a.record for a in actions if isinstance(a, RoundClosed)]
    assert [r.round for r in closed] == [1]
    assert closed[0].accepted == ["host"]
    assert relay.current_round == 2


@pytest.mark.clause("5.4.2.3g")
def test_done_from_the_result_party_ends_the_study_with_its_metrics() -> None:
    relay = _started()
    ack, actions = relay.relay_received(
        RelayMessage("s1", 3, "guest", "dispatcher", "done", {"auc": 0.99}, {}), now=3.0
    )
    assert ack.accepted and relay.phase is Phase.DONE and relay.result == {"auc": 0.99}
    assert any(isinstance(a, StudyFinished) and a.ok for a in actions)
    ends = [a for a in actions if isinstance(a, Send) and isinstance(a.message, StudyEnd)]
    assert sorted(a.node for a in ends) == sorted(PARTIES)


def test_done_from_another_party_is_refused() -> None:
    relay = _started()
    ack, _ = relay.relay_received(RelayMessage("s1", 3, "host", "dispatcher", "done", {}, {}), now=3.0)
    assert not ack.accepted and relay.phase is Phase.TRAINING


def test_unknown_recipient_and_other_study_are_refused() -> None:
    relay = _started()
    assert not relay.relay_received(_msg("host", "mallory"), now=1.0)[0].accepted
    other = RelayMessage("s2", 1, "host", "guest", "step", {}, {})
    assert relay.relay_received(other, now=1.0)[0] == Ack(False, "protocol", "message for study s2")


def test_a_party_leaving_mid_protocol_ends_the_study_with_the_reason() -> None:
    relay = _started()
    actions = relay.node_left("host", now=2.0)
    finished = [a for a in actions if isinstance(a, StudyFinished)]
    assert finished and not finished[0].ok and "host left" in finished[0].reason
    assert relay.phase is Phase.FAILED


def test_a_party_failure_is_passed_to_everyone() -> None:
    relay = _started()
    actions = relay.failure_received(NodeFailure("s1", 2, "arbiter", "he", "wrong key"), now=2.0)
    ends = [a.message for a in actions if isinstance(a, Send)]
    assert all(isinstance(m, StudyEnd) and not m.ok and "wrong key" in m.reason for m in ends)


def test_silence_past_the_idle_timeout_fails_the_study() -> None:
    relay = _started()
    assert relay.tick(now=4.0) == []
    actions = relay.tick(now=5.5)
    assert any(isinstance(a, StudyFinished) and not a.ok for a in actions)


def test_missing_party_at_join_timeout_is_named() -> None:
    relay = _relay(join_timeout=1.0)
    relay.node_joined("guest", now=0.0)
    actions = relay.tick(now=2.0)
    reasons = [a.reason for a in actions if isinstance(a, StudyFinished)]
    assert reasons and "arbiter" in reasons[0] and "host" in reasons[0]
