"""Hostile input on the wire, against a real dispatcher gRPC server (mutual TLS on loopback).

Malformed, truncated, wrong-typed, oversized and replayed frames each get a clear refusal
(an Ack with a coded reason, or a gRPC status); the server keeps serving and loses no
state; afterwards a normal small study still completes over the same server.
"""

from __future__ import annotations

import json
import threading
import time

import grpc
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medfed.core import serde
from medfed.core.messages import Ack, NodeUpdate, SecAggMessage
from medfed.dispatcher.coordinator import Phase
from medfed.errors import IdentityError, TransportError
from medfed.node.runner import run_node
from medfed.node.worker import NodeWorker
from medfed.transport import wire
from tests.fuzz.conftest import MESSAGE_LIMIT

pytestmark = [pytest.mark.slow, pytest.mark.clause("5.5.1.1e")]

# Bounded so the whole suite stays well under a minute on a shared 2-core machine.
FUZZ = settings(
    max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)


def _update(study_id: str = "fuzz-study", round_number: int = 1) -> NodeUpdate:
    return NodeUpdate(study_id, round_number, "hospital-a", {"w": np.zeros(4, np.float32)}, 10, 0.1, {})


def _frame(header: dict, blob: bytes = b"") -> bytes:
    head = json.dumps(header).encode()
    return serde.MAGIC + len(head).to_bytes(4, "big") + head + blob


def _refused(reply: bytes) -> Ack:
    ack = serde.decode(reply)
    assert isinstance(ack, Ack) and not ack.accepted and ack.code and ack.message, ack
    return ack


def _submit_refused(client, frame: bytes) -> str:
    """The reason a frame was refused: an Ack with a coded reason, or INVALID_ARGUMENT."""
    try:
        reply = client.submit(frame, retries=1)
    except TransportError as exc:
        assert "INVALID_ARGUMENT: malformed frame" in str(exc), exc
        return str(exc)
    return _refused(reply).message


def _state(live) -> tuple:
    c = live.service.runtime.coordinator
    return c.phase, len(c.history), sorted(c.connected)


@pytest.fixture(scope="module")
def client(live_dispatcher):
    client = live_dispatcher.client("hospital-a")
    yield client
    client.close()


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_are_refused_with_a_reason(live_dispatcher, client, data) -> None:
    before = _state(live_dispatcher)
    _submit_refused(client, data)
    assert _state(live_dispatcher) == before


@FUZZ
@given(st.integers(min_value=0, max_value=10_000))
def test_truncated_frames_are_refused(live_dispatcher, client, cut) -> None:
    frame = serde.encode(_update())
    before = _state(live_dispatcher)
    _submit_refused(client, frame[: cut % len(frame)])
    assert _state(live_dispatcher) == before


@FUZZ
@given(st.sampled_from(["study_id", "round", "node", "num_samples", "train_seconds", "metrics", "type"]), JSON_VALUES)
def test_wrong_typed_header_fields_are_refused(live_dispatcher, client, field, value) -> None:
    frame = serde.encode(_update())
    header = serde.header_of(frame)
    header[field] = value
    blob = frame[8 + int.from_bytes(frame[4:8], "big") :]
    before = _state(live_dispatcher)
    _submit_refused(client, _frame(header, blob))
    assert _state(live_dispatcher) == before


def test_replayed_and_out_of_turn_messages_are_refused(live_dispatcher, client) -> None:
    before = _state(live_dispatcher)
    for message in (
        _update(),  # no round is open: a replay of an old round's update
        _update(round_number=7),
        _update(study_id="another-study"),
        SecAggMessage("fuzz-study", 1, "hospital-a", "masked", {}, {}),
    ):
        frame = serde.encode(message)
        for _ in range(2):  # the same frame twice: refused both times
            _refused(client.submit(frame))
    # A frame claiming to come from another hospital is refused for the authenticated one.
    forged = serde.encode(NodeUpdate("fuzz-study", 1, "hospital-b", {"w": np.zeros(4, np.float32)}, 10, 0.1, {}))
    assert "authenticated as hospital-a" in _refused(client.submit(forged)).message
    assert _state(live_dispatcher) == before


def test_oversized_frames_are_stopped_by_the_transport(live_dispatcher, client) -> None:
    before = _state(live_dispatcher)
    with pytest.raises(TransportError, match="RESOURCE_EXHAUSTED"):
        client.submit(b"\0" * (MESSAGE_LIMIT + 1), retries=1)
    # The server is still there and answers the next frame.
    _refused(client.submit(b"MFD1"))
    assert _state(live_dispatcher) == before


def test_result_requests_with_bad_arguments_or_roles_are_refused(live_dispatcher, client) -> None:
    fetch = client._channel.unary_unary(wire.FETCH_RESULT)
    with pytest.raises(grpc.RpcError) as caught:
        fetch(b"\xff\xfe", timeout=10)
    # A hospital may not fetch the result at all (role check comes first).
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    result = live_dispatcher.client("result")
    try:
        raw = result._channel.unary_unary(wire.FETCH_RESULT)
        for bad in (b"\xff\xfe", b"nan", b"-1", b"inf"):
            with pytest.raises(grpc.RpcError) as caught:
                raw(bad, timeout=10)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(IdentityError):
            client.fetch_result(0)
    finally:
        result.close()


def test_calls_beyond_the_per_party_limit_are_refused(live_dispatcher) -> None:
    result = live_dispatcher.client("result")
    raw = result._channel.unary_unary(wire.FETCH_RESULT)
    codes: list[grpc.StatusCode] = []
    lock = threading.Lock()

    def call() -> None:
        try:
            raw(b"1.5", timeout=20)
        except grpc.RpcError as exc:
            with lock:
                codes.append(exc.code())

    threads = [threading.Thread(target=call) for _ in range(wire.MAX_CALLS_PER_PEER + 3)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    finally:
        result.close()
    # Every call ends with a status: the surplus at once (RESOURCE_EXHAUSTED), the rest after
    # their wait (the study has not finished: FAILED_PRECONDITION).
    assert len(codes) == len(threads)
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) >= 3
    assert set(codes) <= {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.FAILED_PRECONDITION}


def test_zz_a_normal_study_still_completes_after_the_fuzzing(live_dispatcher) -> None:
    # Named zz: it runs last in this module, on the server every other test has attacked.
    live = live_dispatcher
    assert _state(live) == (Phase.WAITING, 0, [])
    ends = {}

    def hospital(name: str) -> None:
        client = live.client(name)
        try:
            worker = NodeWorker(name, live.scenario.datasets[name], device=torch.device("cpu"))
            ends[name] = run_node(worker, client)
        finally:
            client.close()

    threads = [threading.Thread(target=hospital, args=(h,)) for h in live.study.hospitals]
    for t in threads:
        t.start()
    assert live.service.runtime.finished.wait(timeout=120)
    for t in threads:
        t.join(timeout=30)
    summary = live.service.runtime.summary()
    assert summary["ok"], summary["reason"]
    assert all(end.ok for end in ends.values()) and sorted(ends) == sorted(live.study.hospitals)
    assert live.service.runtime.coordinator.phase is Phase.DONE
    time.sleep(0)  # nothing else to wait for
