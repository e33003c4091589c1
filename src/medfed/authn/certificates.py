"""Certificate login for people (clause 5.5.1.2b).

The server hands out a nonce; the user signs ``framed(context, study_id, nonce)`` with the
key of a certificate the study's CA issued; the server checks issuer, validity dates, study
and signature, and accepts each nonce once.

Server nonces are stateless: ``random(32) ‖ expiry (uint64 ms) ‖ tag(16)``, the tag an HMAC
under a key only this server holds. Issuing one therefore costs no memory, a nonce from
another server (or an altered expiry) fails the tag, and the :class:`NonceCache` only has
to remember nonces that were actually used.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from medfed.authn._encoding import framed
from medfed.authn.audit import Audit, Credential, Reason
from medfed.authn.errors import AuthenticationError, ReplayError
from medfed.authn.nonces import NonceCache
from medfed.authn.principal import Principal
from medfed.crypto import CryptoError, SigningKey, Suite
from medfed.errors import ConfigError, IdentityError
from medfed.pki import check_validity, identity_from_cert, verify_issued_by
from medfed.pki.identity import PeerIdentity

LOGIN_CONTEXT = b"medfed/authn/certificate-login/v1"
_NONCE_CONTEXT = b"medfed/authn/certificate-login-nonce/v1"
_RANDOM = 32
_EXPIRY = 8
_TAG = 16
NONCE_BYTES = _RANDOM + _EXPIRY + _TAG


def login_payload(study_id: str, nonce: bytes) -> bytes:
    """The bytes a user signs to log in with their certificate."""
    return framed(LOGIN_CONTEXT, study_id.encode(), nonce)


def sign_login(signing_key: SigningKey, *, study_id: str, nonce: bytes) -> bytes:
    """Client side: the signature to send back with the certificate."""
    return signing_key.sign(login_payload(study_id, nonce))


class CertificateLogin:
    """Server side of certificate login for one study's CA."""

    def __init__(
        self,
        suite: Suite,
        *,
        study_id: str,
        ca_pem: bytes,
        nonces: NonceCache,
        ttl_s: float = 120.0,
        nonce_key: bytes | None = None,
        audit: Audit | None = None,
    ) -> None:
        if not study_id:
            raise ConfigError("certificate login needs a study id")
        if ttl_s <= 0 or nonces.window_s < ttl_s:
            raise ConfigError("ttl_s must be positive and within the nonce window")
        if nonce_key is not None and len(nonce_key) < 32:
            raise ConfigError("nonce_key must be at least 32 bytes")
        self._suite = suite
        self._study_id = study_id
        self._ca_pem = ca_pem
        self._nonces = nonces
        self._ttl_ms = int(ttl_s * 1000)
        # Servers sharing a store and behind one login page share this key.
        self._key = nonce_key if nonce_key is not None else secrets.token_bytes(32)
        self._audit = audit or Audit()

    def challenge(self, *, now: float) -> bytes:
        """A fresh server nonce (``NONCE_BYTES`` long), answerable for ``ttl_s``."""
        head = secrets.token_bytes(_RANDOM) + (int(now * 1000) + self._ttl_ms).to_bytes(
            _EXPIRY, "big"
        )
        return head + self._tag(head)

    def authenticate(
        self, cert_pem: bytes, nonce: bytes, signature: bytes, *, now: float
    ) -> Principal:
        """The certificate holder's principal, or a logged :class:`AuthenticationError`."""
        who = _label(cert_pem)
        self._check_nonce(nonce, who, now)
        identity = self._check_certificate(cert_pem, who, now)
        try:
            key = self._suite.load_verify_key(_public_key_pem(cert_pem))
            key.verify(login_payload(self._study_id, nonce), signature)
        except CryptoError:
            raise self._refuse(
                AuthenticationError(f"{who!r} did not prove possession of the certificate key"),
                who,
                Reason.BAD_SIGNATURE,
                now,
            ) from None
        # Marked used only after the signature checks, so strangers cannot burn nonces.
        if not self._nonces.remember(nonce[:_RANDOM], now=now):
            raise self._refuse(
                ReplayError("this login nonce was already used"), who, Reason.REPLAY, now
            )
        return Principal(identity.name, identity.role, identity.study_id, Credential.CERTIFICATE)

    def _tag(self, head: bytes) -> bytes:
        return self._suite.hmac(self._key, framed(_NONCE_CONTEXT, self._study_id.encode(), head))[
            :_TAG
        ]

    def _check_nonce(self, nonce: bytes, who: str, now: float) -> None:
        head, tag = nonce[: _RANDOM + _EXPIRY], nonce[_RANDOM + _EXPIRY :]
        if len(nonce) != NONCE_BYTES or not secrets.compare_digest(tag, self._tag(head)):
            raise self._refuse(
                AuthenticationError("login nonce was not issued by this server"),
                who,
                Reason.TAMPERED,
                now,
            )
        if now * 1000 >= int.from_bytes(head[_RANDOM:], "big"):
            raise self._refuse(
                AuthenticationError("login nonce expired; ask for a new one"),
                who,
                Reason.EXPIRED,
                now,
            )

    def _check_certificate(self, cert_pem: bytes, who: str, now: float) -> PeerIdentity:
        try:
            verify_issued_by(cert_pem, self._ca_pem)
        except IdentityError:
            raise self._refuse(
                AuthenticationError(f"certificate of {who!r} was not issued by this study's CA"),
                who,
                Reason.WRONG_CA,
                now,
            ) from None
        at = datetime.fromtimestamp(now, UTC)
        try:
            check_validity(cert_pem, now=at)
        except IdentityError as exc:
            expired = at >= x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc
            raise self._refuse(
                AuthenticationError(str(exc)),
                who,
                Reason.EXPIRED if expired else Reason.NOT_YET_VALID,
                now,
            ) from None
        try:
            identity = identity_from_cert(cert_pem)
        except IdentityError as exc:
            raise self._refuse(
                AuthenticationError(str(exc)), who, Reason.BAD_CERTIFICATE, now
            ) from None
        if identity.study_id != self._study_id:
            raise self._refuse(
                AuthenticationError(f"certificate of {who!r} is for another study"),
                who,
                Reason.WRONG_STUDY,
                now,
            )
        return identity

    def _refuse(
        self, error: AuthenticationError, who: str, reason: Reason, now: float
    ) -> AuthenticationError:
        return self._audit.refuse(
            error, who=who, what=Credential.CERTIFICATE, reason=reason, when=now
        )


def _label(cert_pem: bytes) -> str:
    """A name for the refusal log, read before the certificate is trusted."""
    try:
        return identity_from_cert(cert_pem).name
    except IdentityError:
        return "<unreadable certificate>"


def _public_key_pem(cert_pem: bytes) -> bytes:
    """The SubjectPublicKeyInfo PEM the suite loads (the certificate was parsed already)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
