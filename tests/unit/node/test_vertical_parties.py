"""The vertical parties as the processes run them, driven through the relay coordinator in memory."""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import numpy as np
import pytest

from medfed.core import serde
from medfed.core.config import StudyConfig, load_study
from medfed.core.messages import NodeFailure, RelayMessage
from medfed.data.tabular import load_breast_cancer_table, split_columns
from medfed.dispatcher.coordinator import Phase, Send
from medfed.dispatcher.setup import new_relay
from medfed.errors import MedfedError, ProtocolError
from medfed.node.vertical import ArbiterAdapter, GuestAdapter, HostAdapter
from medfed.orchestration.vertical_run import VERTICAL_STUDY, _joined


def _study(iterations: int = 2) -> StudyConfig:
    base = load_study(VERTICAL_STUDY)
    assert base.vertical is not None
    return replace(base, vertical=replace(base.vertical, iterations=iterations, overlap=0.9))


def _parties(study: StudyConfig, rows: int = 150):
    v = study.vertical
    assert v is not None
    table = load_breast_cancer_table(seed=0)
    table = table.rows(np.arange(rows))
    splits = split_columns(table, study.hospitals, label_party=v.label_party, seed=0, overlap=v.overlap)
    parties = {}
    for name, split in splits.items():
        cls = GuestAdapter if name == v.label_party else HostAdapter
        parties[name] = cls(study, name, _joined(split.train, split.test))
    parties[v.arbiter] = ArbiterAdapter(study, v.arbiter)
    return parties


def _drive(study: StudyConfig, parties: dict, tamper=None):
    """Every frame encoded and decoded as on the wire; returns the relay and what each party got."""
    relay = new_relay(study, now=0.0)
    inbox: deque[tuple[str, bytes]] = deque()
    received: dict[str, list[RelayMessage]] = {p: [] for p in parties}

    def apply(actions):
        for a in actions:
            if isinstance(a, Send):
                inbox.append((a.node, serde.encode(a.message)))

    for name in parties:
        apply(relay.node_joined(name, now=0.0))
    while inbox and relay.phase.value == "training":
        node, frame = inbox.popleft()
        message = serde.decode(frame)
        if not isinstance(message, RelayMessage):
            continue
        received[node].append(message)
        try:
            if message.kind == "start":
                outgoing = parties[node].start(message.body)
            else:
                outgoing = parties[node].receive(message)
        except MedfedError as exc:
            apply(relay.failure_received(NodeFailure(study.study_id, message.round, node, exc.code, str(exc)), now=1.0))
            continue
        for out in outgoing:
            if tamper is not None:
                out = tamper(out)
            ack, actions = relay.relay_received(serde.decode(serde.encode(out)), now=1.0)
            assert ack.accepted, ack.message
            apply(actions)
    return relay, received


@pytest.mark.clause("A.1", "5.4.3.4-2", "5.4.2.3d")
def test_psi_then_vertical_training_ends_with_the_guests_aggregate_metrics() -> None:
    study = _study()
    relay, received = _drive(study, _parties(study))
    assert relay.phase is Phase.DONE, relay.reason
    assert relay.result["auc"] > 0.9
    assert set(relay.result) == {"auc", "ks", "accuracy", "train_patients", "test_patients", "seconds"}
    # The arbiter only ever gets readiness counts and ciphertexts, never a feature or label.
    arbiter_got = received["arbiter"]
    assert {m.kind for m in arbiter_got} == {"start", "ready", "lr"}
    assert all(m.body.get("kind") == "masked_gradient" for m in arbiter_got if m.kind == "lr")
    # Hosts learn the common patients, never the guest's labels.
    for host in ("pathology", "cytology"):
        kinds = {m.body.get("kind") for m in received[host] if m.kind == "lr"}
        assert kinds <= {"public_key", "residual", "decrypted_gradient"}


def test_a_spoofed_inner_sender_is_refused_and_ends_the_study() -> None:
    study = _study(iterations=1)

    def spoof(message: RelayMessage) -> RelayMessage:
        if message.kind == "lr" and message.body.get("kind") == "host_forward":
            return replace(message, body={**message.body, "sender": "cytology"}) if message.node == "pathology" else message
        return message

    relay, _ = _drive(study, _parties(study), tamper=spoof)
    assert relay.phase is Phase.FAILED
    assert "claims to come from" in relay.reason


def test_a_host_refuses_an_alignment_before_psi_has_run() -> None:
    study = _study()
    parties = _parties(study)
    host = parties["pathology"]
    with pytest.raises(ProtocolError, match="has not finished"):
        host.receive(RelayMessage(study.study_id, 0, "radiology", "pathology", "aligned", {"ids": ["P9999"]}, {}))
