"""The dispatcher's side of the application-level challenge–response (5.5.1.2a).

Mutual TLS has authenticated the connection; before a party may Join or Submit it must also
answer a fresh challenge signed with its identity key, and check the dispatcher's answer to
its own. The channel binding is the digest of the party's TLS client certificate, so a
response cannot be replayed from another connection without that certificate's key.
Sessions are remembered per party and certificate for ``session_s`` seconds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from medfed.authn import (
    Audit,
    Challenge,
    ChallengeConfirmation,
    ChallengeResponder,
    HandshakeConfig,
    NonceCache,
)
from medfed.crypto import SigningKey, Suite, VerifyKey
from medfed.errors import IdentityError, ProtocolError
from medfed.pki import PeerIdentity

log = logging.getLogger("medfed.dispatcher")


def channel_binding(suite: Suite, client_cert_pem: bytes) -> bytes:
    return suite.digest(b"medfed/tls-client-cert/v1" + client_cert_pem)


class Handshakes:
    def __init__(
        self,
        *,
        study_id: str,
        name: str,
        signing_key: SigningKey,
        suite: Suite,
        peer_key: Callable[[str, bytes], VerifyKey],
        revocation_check: Callable[[bytes], None] | None = None,
        session_s: float = 12 * 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._study_id = study_id
        self._name = name
        self._key = signing_key
        self._suite = suite
        self._peer_key = peer_key  # (party name, its TLS certificate) -> its identity key
        self._revocation_check = revocation_check  # raises for a revoked certificate
        self._session_s = session_s
        self._clock = clock
        self._nonces = NonceCache()
        self._audit = Audit()
        self._pending: dict[str, ChallengeResponder] = {}
        self._sessions: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Lock()

    def step(self, peer: PeerIdentity, cert_pem: bytes, message: bytes) -> bytes:
        """Answer a challenge (returns the response) or take a confirmation (returns ``{"ok": true}``)."""
        now = self._clock()
        if self._revocation_check is not None:
            self._revocation_check(cert_pem)  # checked at every connection (5.5.1.3c)
        try:
            data = json.loads(message)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProtocolError(f"challenge–response message is not JSON: {exc}") from None
        kind = data.get("type") if isinstance(data, dict) else None
        with self._lock:
            if kind == "authn.challenge":
                config = HandshakeConfig(
                    study_id=self._study_id,
                    own_name=self._name,
                    peer_name=peer.name,
                    signing_key=self._key,
                    peer_key=self._peer_key(peer.name, cert_pem),
                    channel_binding=channel_binding(self._suite, cert_pem),
                )
                responder = ChallengeResponder(config, self._nonces, audit=self._audit)
                response = responder.receive_challenge(Challenge.from_dict(data), now=now)
                self._pending[peer.name] = responder
                return json.dumps(response.to_dict()).encode()
            if kind == "authn.confirm":
                pending = self._pending.pop(peer.name, None)
                if pending is None:
                    raise ProtocolError(f"{peer.name} confirmed a challenge–response that was never started")
                proven = pending.receive_confirmation(ChallengeConfirmation.from_dict(data), now=now)
                self._sessions[peer.name] = (proven.channel_binding, now)
                log.info("%s passed the challenge–response", peer.name)
                return b'{"ok": true}'
        raise ProtocolError(f"unexpected challenge–response message {kind!r}")

    def check(self, peer: PeerIdentity, cert_pem: bytes) -> None:
        if self._revocation_check is not None:
            self._revocation_check(cert_pem)
        with self._lock:
            session = self._sessions.get(peer.name)
        if session is None:
            raise IdentityError(f"{peer.name} has not completed the challenge–response (5.5.1.2a)")
        binding, since = session
        if binding != channel_binding(self._suite, cert_pem):
            raise IdentityError(f"{peer.name} proved itself with another certificate; authenticate again")
        if self._clock() - since > self._session_s:
            raise IdentityError(f"{peer.name}'s challenge–response session expired; authenticate again")
