"""Mutual challenge–response between machine parties (clauses 5.5.1.2a, 5.5.1.2c)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from medfed.authn import (
    AuthenticationError,
    Challenge,
    ChallengeConfirmation,
    ChallengeInitiator,
    ChallengeResponder,
    ChallengeResponse,
    HandshakeConfig,
    HandshakeState,
    NonceCache,
    ReplayError,
)
from medfed.authn.handshake import RESPONDER_LABEL, transcript
from medfed.crypto import Suite, get_suite
from medfed.errors import ConfigError, ProtocolError

from .support import NOW, STUDY, Recorder

NODE, DISPATCHER = "hospital-a", "dispatcher"
BINDING = bytes(range(32))  # stands for a digest of the two TLS certificates


@pytest.fixture(params=["intl", "gm"])
def any_suite(request: pytest.FixtureRequest) -> Suite:
    """Both suites of the standard: SM2 (gm) and ECDSA P-256 (intl) identity keys."""
    return get_suite(request.param)


class Keys:
    """Identity keys of the node (initiator) and the dispatcher (responder)."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite
        self.node = suite.generate_signing_key()
        self.dispatcher = suite.generate_signing_key()

    def node_side(self, **changes: object) -> HandshakeConfig:
        config = HandshakeConfig(
            study_id=STUDY,
            own_name=NODE,
            peer_name=DISPATCHER,
            signing_key=self.node,
            peer_key=self.dispatcher.verify_key(),
            channel_binding=BINDING,
        )
        return replace(config, **changes)

    def dispatcher_side(self, **changes: object) -> HandshakeConfig:
        config = HandshakeConfig(
            study_id=STUDY,
            own_name=DISPATCHER,
            peer_name=NODE,
            signing_key=self.dispatcher,
            peer_key=self.node.verify_key(),
            channel_binding=BINDING,
        )
        return replace(config, **changes)


def over_the_wire(message: Challenge | ChallengeResponse | ChallengeConfirmation) -> dict:
    """What a runner would send: the message as JSON text, parsed again."""
    return json.loads(json.dumps(message.to_dict()))


@pytest.mark.clause("5.5.1.2a")
def test_both_parties_prove_their_identity(any_suite: Suite, recorder: Recorder) -> None:
    keys = Keys(any_suite)
    node = ChallengeInitiator(keys.node_side(), NonceCache(), audit=recorder.audit)
    dispatcher = ChallengeResponder(keys.dispatcher_side(), NonceCache(), audit=recorder.audit)

    challenge = Challenge.from_dict(over_the_wire(node.start(now=NOW)))
    response = ChallengeResponse.from_dict(
        over_the_wire(dispatcher.receive_challenge(challenge, now=NOW + 0.1))
    )
    confirmation = ChallengeConfirmation.from_dict(
        over_the_wire(node.receive_response(response, now=NOW + 0.2))
    )
    peer = dispatcher.receive_confirmation(confirmation, now=NOW + 0.3)

    assert peer.name == NODE and peer.study_id == STUDY and peer.channel_binding == BINDING
    assert node.peer.name == DISPATCHER
    assert node.state is dispatcher.state is HandshakeState.DONE
    assert challenge.nonce != response.nonce and len(challenge.nonce) == 32
    assert recorder.refusals == []


@pytest.mark.clause("5.5.1.2a", "5.5.1.2c")
def test_responder_signing_with_the_wrong_key_is_refused(
    any_suite: Suite, recorder: Recorder
) -> None:
    keys = Keys(any_suite)
    node = ChallengeInitiator(keys.node_side(), NonceCache(), audit=recorder.audit)
    impostor = ChallengeResponder(
        keys.dispatcher_side(signing_key=any_suite.generate_signing_key()), NonceCache()
    )
    response = impostor.receive_challenge(node.start(now=NOW), now=NOW)
    with pytest.raises(AuthenticationError, match="did not prove"):
        node.receive_response(response, now=NOW)
    assert node.state is HandshakeState.FAILED
    assert recorder.last == {
        "who": DISPATCHER,
        "what": "challenge_response",
        "reason": "bad_signature",
        "when": NOW,
    }


@pytest.mark.clause("5.5.1.2a", "5.5.1.2c")
def test_initiator_signing_with_the_wrong_key_is_refused(
    any_suite: Suite, recorder: Recorder
) -> None:
    keys = Keys(any_suite)
    impostor = ChallengeInitiator(
        keys.node_side(signing_key=any_suite.generate_signing_key()), NonceCache()
    )
    dispatcher = ChallengeResponder(keys.dispatcher_side(), NonceCache(), audit=recorder.audit)
    response = dispatcher.receive_challenge(impostor.start(now=NOW), now=NOW)
    confirmation = impostor.receive_response(response, now=NOW)
    with pytest.raises(AuthenticationError, match="did not prove"):
        dispatcher.receive_confirmation(confirmation, now=NOW)
    assert dispatcher.state is HandshakeState.FAILED
    assert recorder.last == {
        "who": NODE,
        "what": "challenge_response",
        "reason": "bad_signature",
        "when": NOW,
    }


@pytest.mark.clause("5.5.1.2a", "5.5.1.2c")
def test_response_made_for_another_channel_is_refused(any_suite: Suite, recorder: Recorder) -> None:
    keys = Keys(any_suite)
    node = ChallengeInitiator(keys.node_side(), NonceCache(), audit=recorder.audit)
    # The genuine dispatcher answering on a different TLS channel (a relay in between).
    elsewhere = ChallengeResponder(keys.dispatcher_side(channel_binding=b"\xff" * 32), NonceCache())
    response = elsewhere.receive_challenge(node.start(now=NOW), now=NOW)
    with pytest.raises(AuthenticationError):
        node.receive_response(response, now=NOW)
    assert recorder.reasons == ["bad_signature"]


@pytest.mark.clause("5.5.1.2a", "5.5.1.2c")
def test_replayed_challenge_nonce_is_refused(suite: Suite, recorder: Recorder) -> None:
    keys = Keys(suite)
    seen = NonceCache()
    challenge = ChallengeInitiator(keys.node_side(), NonceCache()).start(now=NOW)
    ChallengeResponder(keys.dispatcher_side(), seen).receive_challenge(challenge, now=NOW)
    second = ChallengeResponder(keys.dispatcher_side(), seen, audit=recorder.audit)
    with pytest.raises(ReplayError):
        second.receive_challenge(challenge, now=NOW + 5)
    assert recorder.last["reason"] == "replay"


@pytest.mark.clause("5.5.1.2a", "5.5.1.2c")
def test_replayed_responder_nonce_is_refused(suite: Suite, recorder: Recorder) -> None:
    keys = Keys(suite)
    seen = NonceCache()
    first = ChallengeInitiator(keys.node_side(), seen)
    dispatcher = ChallengeResponder(keys.dispatcher_side(), NonceCache())
    old = dispatcher.receive_challenge(first.start(now=NOW), now=NOW)
    first.receive_response(old, now=NOW)

    # A dispatcher whose nonce repeats: validly signed, but the nonce was used before.
    second = ChallengeInitiator(keys.node_side(), seen, audit=recorder.audit)
    challenge = second.start(now=NOW + 1)
    data = transcript(
        RESPONDER_LABEL,
        study_id=STUDY,
        signer=DISPATCHER,
        peer=NODE,
        initiator_nonce=challenge.nonce,
        responder_nonce=old.nonce,
        channel_binding=BINDING,
    )
    repeat = ChallengeResponse(STUDY, DISPATCHER, NODE, old.nonce, keys.dispatcher.sign(data))
    with pytest.raises(ReplayError):
        second.receive_response(repeat, now=NOW + 1)
    assert recorder.last["reason"] == "replay"


@pytest.mark.clause("5.5.1.2a", "5.5.1.2c")
def test_recorded_confirmation_does_not_authenticate_a_new_handshake(
    suite: Suite, recorder: Recorder
) -> None:
    keys = Keys(suite)
    node = ChallengeInitiator(keys.node_side(), NonceCache())
    dispatcher = ChallengeResponder(keys.dispatcher_side(), NonceCache())
    recorded = node.receive_response(
        dispatcher.receive_challenge(node.start(now=NOW), now=NOW), now=NOW
    )
    # An eavesdropper replays the whole first conversation against a fresh dispatcher.
    fresh = ChallengeResponder(keys.dispatcher_side(), NonceCache(), audit=recorder.audit)
    first_challenge = Challenge(STUDY, NODE, DISPATCHER, b"\x07" * 32)
    fresh.receive_challenge(first_challenge, now=NOW + 1)
    with pytest.raises(AuthenticationError):
        fresh.receive_confirmation(recorded, now=NOW + 1)
    assert recorder.reasons == ["bad_signature"]


@pytest.mark.clause("5.5.1.2a", "5.5.1.2c")
def test_late_response_to_an_expired_challenge_is_refused(suite: Suite, recorder: Recorder) -> None:
    keys = Keys(suite)
    node = ChallengeInitiator(keys.node_side(ttl_s=30.0), NonceCache(), audit=recorder.audit)
    dispatcher = ChallengeResponder(keys.dispatcher_side(), NonceCache())
    response = dispatcher.receive_challenge(node.start(now=NOW), now=NOW)
    with pytest.raises(AuthenticationError, match="expired"):
        node.receive_response(response, now=NOW + 30.5)
    assert recorder.last["reason"] == "expired"


@pytest.mark.clause("5.5.1.2a", "5.5.1.2c")
def test_late_confirmation_is_refused(suite: Suite, recorder: Recorder) -> None:
    keys = Keys(suite)
    node = ChallengeInitiator(keys.node_side(), NonceCache())
    dispatcher = ChallengeResponder(
        keys.dispatcher_side(ttl_s=10.0), NonceCache(), audit=recorder.audit
    )
    response = dispatcher.receive_challenge(node.start(now=NOW), now=NOW)
    confirmation = node.receive_response(response, now=NOW + 1)
    with pytest.raises(AuthenticationError, match="expired"):
        dispatcher.receive_confirmation(confirmation, now=NOW + 11)
    assert recorder.last["reason"] == "expired"


@pytest.mark.clause("5.5.1.2a", "5.5.1.2c")
@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("study_id", "study-2", "wrong_study"),
        ("sender", "hospital-b", "wrong_peer"),
        ("recipient", "other-dispatcher", "wrong_peer"),
    ],
)
def test_message_for_another_study_or_party_is_refused(
    suite: Suite, recorder: Recorder, field: str, value: str, reason: str
) -> None:
    keys = Keys(suite)
    challenge = ChallengeInitiator(keys.node_side(), NonceCache()).start(now=NOW)
    dispatcher = ChallengeResponder(keys.dispatcher_side(), NonceCache(), audit=recorder.audit)
    with pytest.raises(AuthenticationError):
        dispatcher.receive_challenge(replace(challenge, **{field: value}), now=NOW)
    assert recorder.reasons == [reason]


@pytest.mark.clause("5.5.1.2c")
def test_out_of_order_message_fails_the_handshake(suite: Suite, recorder: Recorder) -> None:
    keys = Keys(suite)
    dispatcher = ChallengeResponder(keys.dispatcher_side(), NonceCache(), audit=recorder.audit)
    confirmation = ChallengeConfirmation(STUDY, NODE, DISPATCHER, b"\x01" * 64)
    with pytest.raises(ProtocolError, match="out of order"):
        dispatcher.receive_confirmation(confirmation, now=NOW)
    challenge = ChallengeInitiator(keys.node_side(), NonceCache()).start(now=NOW)
    with pytest.raises(ProtocolError):  # a failed handshake stays failed
        dispatcher.receive_challenge(challenge, now=NOW)
    assert recorder.reasons == ["out_of_order", "out_of_order"]
    with pytest.raises(ProtocolError, match="not complete"):
        _ = dispatcher.peer


def test_handshake_config_refuses_weak_settings(suite: Suite) -> None:
    keys = Keys(suite)
    with pytest.raises(ConfigError, match="channel_binding"):
        keys.node_side(channel_binding=b"short")
    with pytest.raises(ConfigError, match="itself"):
        keys.node_side(peer_name=NODE)
    with pytest.raises(ConfigError, match="nonce window"):
        ChallengeInitiator(keys.node_side(ttl_s=60.0), NonceCache(window_s=30.0))
