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
from medfed.core.config import load_study
from medfed.errors import IdentityError, ProtocolError
from medfed.pki import StartupKit
from medfed.pki.kit import DISPATCHER_CERT_FILE
from medfed.pki.suite_identity import SM2_CA_FILE, SM2_CERT_FILE, kit_suite, verify_key
from medfed.roles import Role


class AuthChannel(Protocol):
    def authenticate(self, message: bytes) -> bytes: ...


def authenticate_to_dispatcher(channel: AuthChannel, kit: StartupKit) -> None:
    """Complete the mutual challenge–response in the study's suite (SM2 under gm, from the kit's
    study file); IdentityError if the dispatcher's answer does not verify with the dispatcher
    certificate in the kit."""
    study = load_study(kit.directory / "study.toml")
    suite_name = study.security.suite.value
    dispatcher_name = next(p.name for p in study.parties if p.role is Role.DISPATCHER)
    suite, own_key = kit_suite(kit.directory, suite_name)
    cert_name = f"dispatcher.{SM2_CERT_FILE}" if suite_name == "gm" else DISPATCHER_CERT_FILE
    dispatcher_cert = kit.directory / cert_name
    if not dispatcher_cert.is_file():
        raise IdentityError(f"kit {kit.directory} lacks {cert_name}; re-provision the study")
    ca = kit.directory / SM2_CA_FILE
    own_cert = kit.cert_path.read_bytes()
    config = HandshakeConfig(
        study_id=kit.study_id,
        own_name=kit.name,
        peer_name=dispatcher_name,
        signing_key=own_key,
        peer_key=verify_key(
            dispatcher_cert.read_bytes(), suite_name, ca_pem=ca.read_bytes() if ca.is_file() else None,
            name=dispatcher_name,
        ),
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
