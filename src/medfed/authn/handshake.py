"""What both sides of the machine challenge–response agree on (clause 5.5.1.2a).

Each side signs

    framed(CONTEXT ‖ role label, study_id, signer name, peer name,
           initiator nonce, responder nonce, channel_binding)

(:func:`transcript`; ``framed`` length-prefixes every part with 4 bytes, big-endian) with
its identity ``SigningKey``. The role label differs per direction, so a signature can never
be reflected back to its signer; ``channel_binding`` (e.g. a digest of both TLS
certificates) means a response relayed onto another channel does not verify.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from medfed.authn._encoding import framed
from medfed.crypto import SigningKey, VerifyKey
from medfed.errors import ConfigError

CONTEXT = b"medfed/authn/challenge-response/v1"
INITIATOR_LABEL = b"/initiator"
RESPONDER_LABEL = b"/responder"
MIN_CHANNEL_BINDING = 16


class HandshakeState(enum.Enum):
    READY = "ready"
    AWAITING_RESPONSE = "awaiting_response"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class HandshakeConfig:
    """One side's view of a handshake.

    ``peer_name`` and ``peer_key`` come from the peer's mTLS certificate (or the study's
    registry), never from the peer's messages. The keys fix the suite (SM2 under ``gm``,
    ECDSA P-256 under ``intl``). ``ttl_s`` bounds how long a sent challenge stays
    answerable.
    """

    study_id: str
    own_name: str
    peer_name: str
    signing_key: SigningKey
    peer_key: VerifyKey
    channel_binding: bytes
    ttl_s: float = 30.0

    def __post_init__(self) -> None:
        if not (self.study_id and self.own_name and self.peer_name):
            raise ConfigError("a handshake needs a study id and both party names")
        if self.own_name == self.peer_name:
            raise ConfigError(f"a party cannot authenticate to itself ({self.own_name!r})")
        if len(self.channel_binding) < MIN_CHANNEL_BINDING:
            raise ConfigError(
                f"channel_binding must be at least {MIN_CHANNEL_BINDING} bytes (a digest of the "
                "TLS certificates or an exported keying value)"
            )
        if self.ttl_s <= 0:
            raise ConfigError(f"ttl_s must be positive, not {self.ttl_s}")


@dataclass(frozen=True)
class AuthenticatedPeer:
    """The party at the other end, proven by its signature over this channel's transcript."""

    name: str
    study_id: str
    channel_binding: bytes


def transcript(
    label: bytes,
    *,
    study_id: str,
    signer: str,
    peer: str,
    initiator_nonce: bytes,
    responder_nonce: bytes,
    channel_binding: bytes,
) -> bytes:
    """The bytes ``signer`` signs; ``label`` is the signer's role in the handshake."""
    return framed(
        CONTEXT + label,
        study_id.encode(),
        signer.encode(),
        peer.encode(),
        initiator_nonce,
        responder_nonce,
        channel_binding,
    )
