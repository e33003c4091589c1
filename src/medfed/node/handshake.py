"""A party's side of the application-level challenge–response with the dispatcher (5.5.1.2a).

Run once per connection, before Join: the party challenges the dispatcher (whose answer must
verify with the dispatcher certificate in the kit) and answers the dispatcher's challenge with
its own identity key, both bound to this party's TLS client certificate.
"""

from __future__ import annotations

import json
import time
from typing import Protocol

from medfed.authn import ChallengeInitiator, ChallengeResponse, HandshakeConfig, NonceCache
from medfed.crypto import get_suite
from medfed.errors import IdentityError, ProtocolError
from medfed.pki import StartupKit
from medfed.pki.identity import public_key_pem
from medfed.pki.kit import DISPATCHER_CERT_FILE


class AuthChannel(Protocol):
    def authenticate(self, message: bytes) -> bytes: ...


def authenticate_to_dispatcher(channel: AuthChannel, kit: StartupKit, *, dispatcher_name: str = "dispatcher") -> None:
    """Complete the mutual challenge–response; IdentityError if the dispatcher's answer is wrong."""
    suite = get_suite("intl")  # identity keys are the kits' TLS keys (ECDSA P-256)
    dispatcher_cert = kit.directory / DISPATCHER_CERT_FILE
    if not dispatcher_cert.is_file():
        raise IdentityError(f"kit {kit.directory} lacks {DISPATCHER_CERT_FILE}; re-provision the study")
    own_cert = kit.cert_path.read_bytes()
    config = HandshakeConfig(
        study_id=kit.study_id,
        own_name=kit.name,
        peer_name=dispatcher_name,
        signing_key=suite.load_signing_key(kit.key_path.read_bytes()),
        peer_key=suite.load_verify_key(public_key_pem(dispatcher_cert.read_bytes())),
        channel_binding=suite.digest(b"medfed/tls-client-cert/v1" + own_cert),
    )
    initiator = ChallengeInitiator(config, NonceCache())
    answer = channel.authenticate(json.dumps(initiator.start(now=time.time()).to_dict()).encode())
    try:
        response = ChallengeResponse.from_dict(json.loads(answer))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"the dispatcher's challenge–response answer is not JSON: {exc}") from None
    confirmation = initiator.receive_response(response, now=time.time())
    channel.authenticate(json.dumps(confirmation.to_dict()).encode())
