"""ECDH-PSI over X25519: exact intersection, nothing but blinded points on the wire."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

import medfed.privacy.psi as psi
from medfed.errors import DataError, ProtocolError
from medfed.privacy.psi import (
    PSIInitiator,
    PSIRequest,
    PSIResponder,
    PSIResponse,
    PSIResult,
    hash_to_point,
    psi_message_from_wire,
    run_psi,
)

STUDY = "study-psi"


def _ids(numbers: range | list[int]) -> list[str]:
    return [f"P{n:05d}" for n in numbers]


def _wire_bytes(message: psi.PSIMessage) -> bytes:
    header, arrays = message.to_wire()
    return json.dumps(header).encode() + b"".join(a.tobytes() for a in arrays.values())


def _mul(key: object, point: bytes) -> bytes:
    return key.exchange(X25519PublicKey.from_public_bytes(point))  # type: ignore[attr-defined]


@pytest.mark.clause("5.4.1")
def test_intersection_is_exactly_the_shared_ids() -> None:
    rng = np.random.default_rng(3)
    a = _ids(rng.choice(1000, size=120, replace=False).tolist())
    b = _ids(rng.choice(1000, size=90, replace=False).tolist())
    outcome = run_psi(a, b, study_id=STUDY)
    assert outcome.intersection == tuple(sorted(set(a) & set(b)))
    assert len(outcome.intersection) > 0


@pytest.mark.clause("5.4.1")
def test_both_sides_learn_the_same_sorted_intersection() -> None:
    a, b = _ids(range(0, 40)), _ids(range(25, 70))
    initiator = PSIInitiator(a, study_id=STUDY)
    responder = PSIResponder(b, study_id=STUDY)
    [request] = initiator.start()
    [response] = responder.receive(request)
    [result] = initiator.receive(response)
    assert responder.receive(result) == []
    assert initiator.intersection == responder.intersection == tuple(_ids(range(25, 40)))


@pytest.mark.clause("5.4.1", "5.5.1.1a")
def test_messages_hold_no_raw_id_and_no_unblinded_hash() -> None:
    a, b = _ids(range(0, 60)), _ids(range(30, 100))
    outcome = run_psi(a, b, study_id=STUDY)
    received = {
        "responder": b"".join(_wire_bytes(m) for m in outcome.to_responder),
        "initiator": b"".join(_wire_bytes(m) for m in outcome.to_initiator),
    }
    for blob in received.values():
        for pid in set(a) | set(b):
            assert pid.encode() not in blob
            for counter in range(3):
                assert hash_to_point(STUDY, pid, counter) not in blob


@pytest.mark.clause("5.4.1", "5.5.1.1a")
def test_responder_only_ids_cannot_be_matched_by_the_initiator() -> None:
    a, b = _ids(range(0, 30)), _ids(range(20, 60))
    initiator = PSIInitiator(a, study_id=STUDY)
    responder = PSIResponder(b, study_id=STUDY)
    [request] = initiator.start()
    [response] = responder.receive(request)
    assert isinstance(response, PSIResponse)
    key = initiator._key  # what the initiator can compute with: its own scalar
    own_hashes = {hash_to_point(STUDY, x) for x in a}
    own_single = {_mul(key, h) for h in own_hashes}
    own_double = set(response.double_blinded)
    computable = own_hashes | own_single | own_double
    theirs = [_mul(key, v) for v in response.blinded]
    matched = [v for v in theirs if v in own_double]
    assert len(matched) == len(set(a) & set(b)) == 10
    unmatched = [v for v in theirs if v not in own_double]
    assert len(unmatched) == len(set(b) - set(a))
    for v in unmatched:
        assert v not in computable
    for v in response.blinded:
        assert v not in own_hashes and v not in own_single


@pytest.mark.clause("5.4.1")
def test_no_shared_patient_raises_a_data_error_at_the_end() -> None:
    with pytest.raises(DataError, match="no patients in common"):
        run_psi(_ids(range(0, 20)), _ids(range(20, 40)), study_id=STUDY)


@pytest.mark.clause("5.4.1")
@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        ([], ["P1"], "empty"),
        (["P1"], [], "empty"),
        (["P1", "P2", "P1"], ["P1"], "duplicates"),
        (["P1"], ["P2", "P2"], "duplicates"),
    ],
)
def test_duplicates_and_empty_sets_raise_data_errors(
    a: list[str], b: list[str], match: str
) -> None:
    with pytest.raises(DataError, match=match):
        run_psi(a, b, study_id=STUDY)


@pytest.mark.clause("5.4.1")
def test_out_of_order_or_foreign_messages_raise_protocol_errors() -> None:
    initiator = PSIInitiator(_ids(range(5)), study_id=STUDY)
    responder = PSIResponder(_ids(range(3, 9)), study_id=STUDY)
    with pytest.raises(ProtocolError):
        responder.receive(PSIResult(STUDY, (0,)))  # result before any request
    [request] = initiator.start()
    with pytest.raises(ProtocolError):
        initiator.start()
    with pytest.raises(ProtocolError, match="another study"):
        responder.receive(PSIRequest("other-study", request.blinded))  # type: ignore[union-attr]
    with pytest.raises(ProtocolError):
        responder.receive(PSIRequest(STUDY, (b"\x01" * 31,)))
    [response] = responder.receive(request)
    with pytest.raises(ProtocolError):
        responder.receive(request)  # a second request
    assert isinstance(response, PSIResponse)
    with pytest.raises(ProtocolError, match="every requested point"):
        initiator.receive(PSIResponse(STUDY, response.double_blinded[:-1], response.blinded))
    [result] = initiator.receive(response)
    with pytest.raises(ProtocolError, match="out-of-range"):
        responder.receive(PSIResult(STUDY, (99,)))
    responder.receive(result)
    assert responder.intersection == initiator.intersection == tuple(_ids(range(3, 5)))


def test_unfinished_party_has_no_intersection() -> None:
    with pytest.raises(ProtocolError, match="not finished"):
        _ = PSIInitiator(["P1"], study_id=STUDY).intersection


@pytest.mark.clause("5.4.1")
def test_a_hash_of_small_order_is_rehashed_the_same_way_on_both_sides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = psi.hash_to_point

    def unlucky(study_id: str, patient_id: str, counter: int = 0) -> bytes:
        if patient_id == "P00002" and counter == 0:
            return bytes(32)  # u = 0: a point of small order, refused by X25519
        return real(study_id, patient_id, counter)

    monkeypatch.setattr(psi, "hash_to_point", unlucky)
    outcome = run_psi(_ids(range(0, 5)), _ids(range(2, 8)), study_id=STUDY)
    assert outcome.intersection == tuple(_ids(range(2, 5)))


def test_messages_survive_their_wire_form() -> None:
    outcome = run_psi(_ids(range(0, 10)), _ids(range(5, 12)), study_id=STUDY)
    for message in (*outcome.to_responder, *outcome.to_initiator):
        header, arrays = message.to_wire()
        json.dumps(header)
        assert psi_message_from_wire(header, arrays) == message
    with pytest.raises(ProtocolError):
        psi_message_from_wire(
            {"kind": "psi_request", "study_id": STUDY}, {"blinded": np.zeros((2, 31), np.uint8)}
        )
    with pytest.raises(ProtocolError):
        psi_message_from_wire({"kind": "nonsense", "study_id": STUDY}, {})
