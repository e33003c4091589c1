"""The challenge–response messages survive JSON and refuse anything malformed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from medfed.authn import Challenge, ChallengeConfirmation, ChallengeResponse
from medfed.errors import ProtocolError

NONCE = bytes(range(32))
SIG = b"\x30" + bytes(70)


@pytest.mark.parametrize(
    "message",
    [
        Challenge("study-1", "hospital-a", "dispatcher", NONCE),
        ChallengeResponse("study-1", "dispatcher", "hospital-a", NONCE, SIG),
        ChallengeConfirmation("study-1", "hospital-a", "dispatcher", SIG),
    ],
)
def test_messages_round_trip_through_json(
    message: Challenge | ChallengeResponse | ChallengeConfirmation,
) -> None:
    data = json.loads(json.dumps(message.to_dict()))
    assert data["type"].startswith("authn.") and data["v"] == 1
    assert type(message).from_dict(data) == message


def _challenge(**changes: Any) -> dict[str, Any]:
    data = Challenge("study-1", "hospital-a", "dispatcher", NONCE).to_dict()
    data.update(changes)
    return data


@pytest.mark.clause("5.5.1.2c")
@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([], "JSON object"),
        (_challenge(type="authn.confirm"), "expected"),
        (_challenge(v=2), "version"),
        (_challenge(sender=""), "sender"),
        (_challenge(recipient=7), "recipient"),
        (_challenge(nonce="not base64!"), "base64"),
        (_challenge(nonce="AAAA"), "32 bytes"),
    ],
)
def test_malformed_challenge_is_a_protocol_error(data: object, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        Challenge.from_dict(data)


@pytest.mark.clause("5.5.1.2c")
def test_empty_or_huge_signature_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="signature"):
        ChallengeConfirmation("study-1", "a", "b", b"")
    with pytest.raises(ProtocolError, match="signature"):
        ChallengeResponse("study-1", "a", "b", NONCE, bytes(513))
