"""Authentication of machine parties (challenge–response) and people (password, certificate, token).

Clause 5.5.1.2a: :class:`ChallengeInitiator` / :class:`ChallengeResponder` — a sans-IO mutual
challenge–response run inside an mTLS channel and bound to it.
Clause 5.5.1.2b: :class:`PasswordAuthenticator`, :class:`CertificateLogin` and
:class:`TokenService` — the three credentials a person can present.
Clause 5.5.1.2c: every refusal raises an :class:`AuthenticationError` (or ProtocolError for
a malformed or out-of-order message) and is recorded through :class:`Audit`.

State lives behind :class:`AuthStore` (:class:`InMemoryAuthStore`, :class:`SqliteAuthStore`).
"""

from medfed.authn.audit import Audit, Credential, Reason, Refusal
from medfed.authn.certificates import CertificateLogin, login_payload, sign_login
from medfed.authn.challenge import ChallengeInitiator, ChallengeResponder
from medfed.authn.errors import AccountLockedError, AuthenticationError, ReplayError
from medfed.authn.handshake import AuthenticatedPeer, HandshakeConfig, HandshakeState
from medfed.authn.memory import InMemoryAuthStore
from medfed.authn.messages import Challenge, ChallengeConfirmation, ChallengeResponse
from medfed.authn.nonces import NonceCache
from medfed.authn.passwords import Argon2Params, PasswordAuthenticator
from medfed.authn.principal import Principal
from medfed.authn.sqlite import SqliteAuthStore
from medfed.authn.store import AuthStore, LockoutPolicy, LockState, UserRecord
from medfed.authn.tokens import TokenClaims, TokenService

__all__ = [
    "AccountLockedError",
    "Argon2Params",
    "Audit",
    "AuthStore",
    "AuthenticatedPeer",
    "AuthenticationError",
    "CertificateLogin",
    "Challenge",
    "ChallengeConfirmation",
    "ChallengeInitiator",
    "ChallengeResponder",
    "ChallengeResponse",
    "Credential",
    "HandshakeConfig",
    "HandshakeState",
    "InMemoryAuthStore",
    "LockState",
    "LockoutPolicy",
    "NonceCache",
    "PasswordAuthenticator",
    "Principal",
    "Reason",
    "Refusal",
    "ReplayError",
    "SqliteAuthStore",
    "TokenClaims",
    "TokenService",
    "UserRecord",
    "login_payload",
    "sign_login",
]
