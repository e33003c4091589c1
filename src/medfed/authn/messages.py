"""The three messages of the machine challenge–response (clause 5.5.1.2a).

    initiator                                   responder
        Challenge(nonce_i)            ──────▶
                                      ◀──────   ChallengeResponse(nonce_r, sig_r)
        ChallengeConfirmation(sig_i)  ──────▶

Each message is a frozen dataclass with ``to_dict`` / ``from_dict``; the dict is plain
JSON (bytes as standard base64) with ``"type"`` and ``"v"`` so a runner can route it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from medfed.authn._encoding import b64, unb64
from medfed.errors import ProtocolError

NONCE_BYTES = 32
VERSION = 1
_MAX_NAME = 256
_MAX_SIGNATURE = 512


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > _MAX_NAME:
        raise ProtocolError(f"field {key!r} must be a non-empty string of at most {_MAX_NAME}")
    return value


def _check_header(data: object, kind: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ProtocolError(f"{kind} must be a JSON object")
    if data.get("type") != kind or data.get("v") != VERSION:
        raise ProtocolError(
            f"expected a {kind!r} message of version {VERSION}, "
            f"got type={data.get('type')!r} v={data.get('v')!r}"
        )
    return data


def _check_nonce(nonce: bytes) -> None:
    if len(nonce) != NONCE_BYTES:
        raise ProtocolError(f"a nonce must be {NONCE_BYTES} bytes, not {len(nonce)}")


def _check_signature(signature: bytes) -> None:
    if not 0 < len(signature) <= _MAX_SIGNATURE:
        raise ProtocolError(f"a signature must be 1..{_MAX_SIGNATURE} bytes")


@dataclass(frozen=True)
class Challenge:
    """Initiator → responder: "prove you are ``recipient``; here is my fresh nonce"."""

    TYPE: ClassVar[str] = "authn.challenge"
    study_id: str
    sender: str
    recipient: str
    nonce: bytes

    def __post_init__(self) -> None:
        _check_nonce(self.nonce)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.TYPE,
            "v": VERSION,
            "study_id": self.study_id,
            "sender": self.sender,
            "recipient": self.recipient,
            "nonce": b64(self.nonce),
        }

    @classmethod
    def from_dict(cls, data: object) -> Challenge:
        d = _check_header(data, cls.TYPE)
        return cls(
            _text(d, "study_id"),
            _text(d, "sender"),
            _text(d, "recipient"),
            unb64(d.get("nonce"), "nonce"),
        )


@dataclass(frozen=True)
class ChallengeResponse:
    """Responder → initiator: its own fresh nonce and its signature over the transcript."""

    TYPE: ClassVar[str] = "authn.response"
    study_id: str
    sender: str
    recipient: str
    nonce: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _check_nonce(self.nonce)
        _check_signature(self.signature)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.TYPE,
            "v": VERSION,
            "study_id": self.study_id,
            "sender": self.sender,
            "recipient": self.recipient,
            "nonce": b64(self.nonce),
            "signature": b64(self.signature),
        }

    @classmethod
    def from_dict(cls, data: object) -> ChallengeResponse:
        d = _check_header(data, cls.TYPE)
        return cls(
            _text(d, "study_id"),
            _text(d, "sender"),
            _text(d, "recipient"),
            unb64(d.get("nonce"), "nonce"),
            unb64(d.get("signature"), "signature"),
        )


@dataclass(frozen=True)
class ChallengeConfirmation:
    """Initiator → responder: the initiator's signature over the same two nonces."""

    TYPE: ClassVar[str] = "authn.confirm"
    study_id: str
    sender: str
    recipient: str
    signature: bytes

    def __post_init__(self) -> None:
        _check_signature(self.signature)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.TYPE,
            "v": VERSION,
            "study_id": self.study_id,
            "sender": self.sender,
            "recipient": self.recipient,
            "signature": b64(self.signature),
        }

    @classmethod
    def from_dict(cls, data: object) -> ChallengeConfirmation:
        d = _check_header(data, cls.TYPE)
        return cls(
            _text(d, "study_id"),
            _text(d, "sender"),
            _text(d, "recipient"),
            unb64(d.get("signature"), "signature"),
        )
