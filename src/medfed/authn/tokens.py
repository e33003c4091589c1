"""Short-lived bearer tokens issued after a login (clause 5.5.1.2b).

A token is ``"mf1." + b64url(payload) + "." + b64url(tag)`` where ``payload`` is canonical
JSON ``{"exp", "iat", "jti", "role", "study", "sub"}`` (times in whole Unix seconds) and
``tag = suite.hmac(key, framed(context, payload))``. Only holders of ``key`` (the service
that issued it) can mint or check tokens. Revocation records ``jti`` in the
:class:`AuthStore` until the token would have expired anyway.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from dataclasses import dataclass

from medfed.authn._encoding import framed
from medfed.authn.audit import Audit, Credential, Reason
from medfed.authn.errors import AuthenticationError
from medfed.authn.principal import Principal
from medfed.authn.store import AuthStore
from medfed.crypto import Suite
from medfed.errors import ConfigError
from medfed.roles import Role

PREFIX = "mf1"
CONTEXT = b"medfed/authn/token/v1"
MAX_TTL_S = 24 * 3600
_CLOCK_SKEW_S = 60  # a token minted by a server whose clock runs slightly ahead
_PART = re.compile(r"[A-Za-z0-9_-]{1,4096}")
_FIELDS = {"exp", "iat", "jti", "role", "study", "sub"}
_UNVERIFIED = "<unverified token>"


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says; ``issued_at`` / ``expires_at`` are Unix seconds."""

    token_id: str
    study_id: str
    subject: str
    role: Role
    issued_at: int
    expires_at: int

    @property
    def principal(self) -> Principal:
        return Principal(self.subject, self.role, self.study_id, Credential.TOKEN)


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    if not _PART.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenService:
    """Issues, verifies and revokes the bearer tokens of one study."""

    def __init__(
        self,
        suite: Suite,
        *,
        key: bytes,
        store: AuthStore,
        study_id: str,
        ttl_s: int = 900,
        audit: Audit | None = None,
    ) -> None:
        if len(key) < 32:
            raise ConfigError("a token key must be at least 32 random bytes")
        if not study_id:
            raise ConfigError("a token service needs a study id")
        if not 0 < ttl_s <= MAX_TTL_S:
            raise ConfigError(f"token ttl_s must be in 1..{MAX_TTL_S}, not {ttl_s}")
        self._suite = suite
        self._key = key
        self._store = store
        self._study_id = study_id
        self._ttl_s = ttl_s
        self._audit = audit or Audit()

    def issue(self, principal: Principal, *, now: float) -> str:
        """A token for ``principal`` (who just logged in), valid ``ttl_s`` from ``now``."""
        if principal.study_id != self._study_id:
            raise ConfigError(
                f"cannot issue a {self._study_id!r} token to a principal of "
                f"study {principal.study_id!r}"
            )
        issued = int(now)
        payload = json.dumps(
            {
                "exp": issued + self._ttl_s,
                "iat": issued,
                "jti": secrets.token_hex(16),
                "role": principal.role.value,
                "study": self._study_id,
                "sub": principal.name,
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        return f"{PREFIX}.{_b64e(payload)}.{_b64e(self._tag(payload))}"

    def verify(self, token: str, *, now: float) -> TokenClaims:
        """The token's claims; refuses tampered, expired, revoked and other-study tokens."""
        claims = self._claims(token, now)
        if claims.study_id != self._study_id:
            raise self._refuse(
                AuthenticationError("token is for another study"),
                claims.subject,
                Reason.WRONG_STUDY,
                now,
            )
        if now >= claims.expires_at:
            raise self._refuse(
                AuthenticationError("token expired; log in again"),
                claims.subject,
                Reason.EXPIRED,
                now,
            )
        if claims.issued_at > now + _CLOCK_SKEW_S:
            raise self._refuse(
                AuthenticationError("token is not valid yet"),
                claims.subject,
                Reason.NOT_YET_VALID,
                now,
            )
        if self._store.is_token_revoked(claims.token_id):
            raise self._refuse(
                AuthenticationError("token was revoked"), claims.subject, Reason.REVOKED, now
            )
        return claims

    def revoke(self, token: str, *, now: float) -> None:
        """Refuse ``token`` from now on (e.g. at logout); only our own tokens are recorded."""
        claims = self._claims(token, now)
        if claims.study_id == self._study_id and now < claims.expires_at:
            self._store.revoke_token(claims.token_id, expires_at=claims.expires_at)

    def _tag(self, payload: bytes) -> bytes:
        return self._suite.hmac(self._key, framed(CONTEXT, payload))

    def _claims(self, token: str, now: float) -> TokenClaims:
        """Parse and authenticate the token; nothing in it is read before the tag checks."""
        parts = token.split(".") if isinstance(token, str) else []
        try:
            if len(parts) != 3 or parts[0] != PREFIX:
                raise ValueError("not a medfed token")
            payload, tag = _b64d(parts[1]), _b64d(parts[2])
        except (ValueError, binascii.Error):
            raise self._refuse(
                AuthenticationError("malformed token"), _UNVERIFIED, Reason.MALFORMED, now
            ) from None
        if not secrets.compare_digest(tag, self._tag(payload)):
            raise self._refuse(
                AuthenticationError("token failed its integrity check"),
                _UNVERIFIED,
                Reason.TAMPERED,
                now,
            )
        try:
            data = json.loads(payload)
            if not isinstance(data, dict) or set(data) != _FIELDS:
                raise ValueError("unexpected fields")
            claims = TokenClaims(
                str(data["jti"]),
                str(data["study"]),
                str(data["sub"]),
                Role(data["role"]),
                int(data["iat"]),
                int(data["exp"]),
            )
        except (ValueError, TypeError):
            # Only a holder of the key could have made this: a bug, not an attack.
            raise self._refuse(
                AuthenticationError("malformed token"), _UNVERIFIED, Reason.MALFORMED, now
            ) from None
        return claims

    def _refuse(
        self, error: AuthenticationError, who: str, reason: Reason, now: float
    ) -> AuthenticationError:
        return self._audit.refuse(error, who=who, what=Credential.TOKEN, reason=reason, when=now)
