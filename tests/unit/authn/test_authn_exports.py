from __future__ import annotations

import medfed.authn
from medfed.authn import AccountLockedError, AuthenticationError, ReplayError
from medfed.errors import IdentityError


def test_public_api_is_exactly_this() -> None:
    assert sorted(medfed.authn.__all__) == sorted(
        [
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
    )
    for name in medfed.authn.__all__:
        assert getattr(medfed.authn, name).__module__.startswith("medfed.authn.")


def test_every_refusal_is_an_identity_error_coded_authn() -> None:
    for cls in (AuthenticationError, AccountLockedError, ReplayError):
        assert issubclass(cls, IdentityError)
        assert cls.code == "authn"
