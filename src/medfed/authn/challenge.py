"""Sans-IO state machines of the mutual challenge–response (clause 5.5.1.2a).

Runs inside a channel that mTLS already authenticated; it proves, at the application
level, that each side holds its identity key *now* and for *this* channel (the signed
transcript is described in :mod:`medfed.authn.handshake`).

    initiator                                   responder
      start()          ── Challenge ──▶           receive_challenge()
      receive_response() ◀── ChallengeResponse ──
                       ── ChallengeConfirmation ──▶ receive_confirmation() → AuthenticatedPeer

Both classes consume and return message objects and never touch a socket; the caller
passes the clock as ``now`` (Unix seconds). Any refusal is logged through
:class:`~medfed.authn.audit.Audit`, moves the machine to ``FAILED`` and raises.
"""

from __future__ import annotations

import secrets

from medfed.authn.audit import Audit, Credential, Reason
from medfed.authn.errors import AuthenticationError, ReplayError
from medfed.authn.handshake import (
    INITIATOR_LABEL,
    RESPONDER_LABEL,
    AuthenticatedPeer,
    HandshakeConfig,
    HandshakeState,
    transcript,
)
from medfed.authn.messages import (
    NONCE_BYTES,
    Challenge,
    ChallengeConfirmation,
    ChallengeResponse,
)
from medfed.authn.nonces import NonceCache
from medfed.crypto import CryptoError
from medfed.errors import ConfigError, MedfedError, ProtocolError


class _Side:
    """What both sides share: state, addressing checks, signature checks and refusals."""

    def __init__(self, config: HandshakeConfig, nonces: NonceCache, audit: Audit | None) -> None:
        if nonces.window_s < config.ttl_s:
            raise ConfigError("the nonce window must be at least the challenge ttl_s")
        self.config = config
        self._nonces = nonces
        self._audit = audit or Audit()
        self._state = HandshakeState.READY
        self._started = 0.0
        self._peer: AuthenticatedPeer | None = None

    @property
    def state(self) -> HandshakeState:
        return self._state

    @property
    def peer(self) -> AuthenticatedPeer:
        """The authenticated peer; ProtocolError before the handshake is done."""
        if self._peer is None:
            raise ProtocolError(f"handshake with {self.config.peer_name!r} is not complete")
        return self._peer

    def _refuse(self, error: MedfedError, reason: Reason, now: float) -> MedfedError:
        self._state = HandshakeState.FAILED
        return self._audit.refuse(
            error,
            who=self.config.peer_name,
            what=Credential.CHALLENGE_RESPONSE,
            reason=reason,
            when=now,
        )

    def _expect(self, state: HandshakeState, what: str, now: float) -> None:
        if self._state is not state:
            raise self._refuse(
                ProtocolError(
                    f"{what} from {self.config.peer_name!r} is out of order "
                    f"(handshake is {self._state.value})"
                ),
                Reason.OUT_OF_ORDER,
                now,
            )

    def _check_fresh(self, now: float) -> None:
        if now - self._started > self.config.ttl_s:
            raise self._refuse(
                AuthenticationError(f"challenge to {self.config.peer_name!r} expired"),
                Reason.EXPIRED,
                now,
            )

    def _check_addressing(
        self, msg: Challenge | ChallengeResponse | ChallengeConfirmation, now: float
    ) -> None:
        cfg = self.config
        if msg.study_id != cfg.study_id:
            raise self._refuse(
                AuthenticationError(f"message from {msg.sender!r} is for another study"),
                Reason.WRONG_STUDY,
                now,
            )
        if msg.sender != cfg.peer_name or msg.recipient != cfg.own_name:
            raise self._refuse(
                AuthenticationError(
                    f"message from {msg.sender!r} to {msg.recipient!r} on the channel of "
                    f"{cfg.peer_name!r} to {cfg.own_name!r}"
                ),
                Reason.WRONG_PEER,
                now,
            )

    def _check_nonce(self, nonce: bytes, now: float) -> None:
        if not self._nonces.remember(nonce, now=now):
            raise self._refuse(
                ReplayError(f"nonce from {self.config.peer_name!r} was already used"),
                Reason.REPLAY,
                now,
            )

    def _verify(self, label: bytes, signature: bytes, ini: bytes, resp: bytes, now: float) -> None:
        cfg = self.config
        data = transcript(
            label,
            study_id=cfg.study_id,
            signer=cfg.peer_name,
            peer=cfg.own_name,
            initiator_nonce=ini,
            responder_nonce=resp,
            channel_binding=cfg.channel_binding,
        )
        try:
            cfg.peer_key.verify(data, signature)
        except CryptoError:
            raise self._refuse(
                AuthenticationError(f"{cfg.peer_name!r} did not prove its identity"),
                Reason.BAD_SIGNATURE,
                now,
            ) from None

    def _sign(self, label: bytes, ini: bytes, resp: bytes) -> bytes:
        cfg = self.config
        return cfg.signing_key.sign(
            transcript(
                label,
                study_id=cfg.study_id,
                signer=cfg.own_name,
                peer=cfg.peer_name,
                initiator_nonce=ini,
                responder_nonce=resp,
                channel_binding=cfg.channel_binding,
            )
        )

    def _done(self) -> AuthenticatedPeer:
        self._state = HandshakeState.DONE
        self._peer = AuthenticatedPeer(
            self.config.peer_name, self.config.study_id, self.config.channel_binding
        )
        return self._peer


class ChallengeInitiator(_Side):
    """The side that opens the handshake (e.g. a node joining the dispatcher)."""

    def __init__(
        self, config: HandshakeConfig, nonces: NonceCache, *, audit: Audit | None = None
    ) -> None:
        super().__init__(config, nonces, audit)
        self._nonce = b""

    def start(self, *, now: float) -> Challenge:
        """The first message; the challenge stays answerable for ``ttl_s`` from ``now``."""
        self._expect(HandshakeState.READY, "start", now)
        self._nonce = secrets.token_bytes(NONCE_BYTES)
        self._started = now
        self._state = HandshakeState.AWAITING_RESPONSE
        cfg = self.config
        return Challenge(cfg.study_id, cfg.own_name, cfg.peer_name, self._nonce)

    def receive_response(self, msg: ChallengeResponse, *, now: float) -> ChallengeConfirmation:
        """Check the responder's proof; return our own proof to send back."""
        self._expect(HandshakeState.AWAITING_RESPONSE, "response", now)
        self._check_fresh(now)
        self._check_addressing(msg, now)
        if secrets.compare_digest(msg.nonce, self._nonce):  # our own nonce echoed back
            raise self._refuse(ReplayError("responder echoed our nonce"), Reason.REPLAY, now)
        self._verify(RESPONDER_LABEL, msg.signature, self._nonce, msg.nonce, now)
        self._check_nonce(msg.nonce, now)
        signature = self._sign(INITIATOR_LABEL, self._nonce, msg.nonce)
        self._done()
        cfg = self.config
        return ChallengeConfirmation(cfg.study_id, cfg.own_name, cfg.peer_name, signature)


class ChallengeResponder(_Side):
    """The side that answers (e.g. the dispatcher accepting a Join)."""

    def __init__(
        self, config: HandshakeConfig, nonces: NonceCache, *, audit: Audit | None = None
    ) -> None:
        super().__init__(config, nonces, audit)
        self._peer_nonce = b""
        self._nonce = b""

    def receive_challenge(self, msg: Challenge, *, now: float) -> ChallengeResponse:
        """Answer the initiator's challenge with our nonce and proof."""
        self._expect(HandshakeState.READY, "challenge", now)
        self._check_addressing(msg, now)
        self._check_nonce(msg.nonce, now)
        self._peer_nonce = msg.nonce
        self._nonce = secrets.token_bytes(NONCE_BYTES)
        self._started = now
        self._state = HandshakeState.AWAITING_CONFIRMATION
        signature = self._sign(RESPONDER_LABEL, self._peer_nonce, self._nonce)
        cfg = self.config
        return ChallengeResponse(cfg.study_id, cfg.own_name, cfg.peer_name, self._nonce, signature)

    def receive_confirmation(self, msg: ChallengeConfirmation, *, now: float) -> AuthenticatedPeer:
        """Check the initiator's proof; the peer is authenticated when this returns."""
        self._expect(HandshakeState.AWAITING_CONFIRMATION, "confirmation", now)
        self._check_fresh(now)
        self._check_addressing(msg, now)
        self._verify(INITIATOR_LABEL, msg.signature, self._peer_nonce, self._nonce, now)
        return self._done()
