"""Who a certificate names, whether it is valid now, and whether our CA issued it.

A peer's identity is read from its certificate's SAN URI
``medfed://<study_id>/<role>/<name>``; certificates without one fall back to the
subject (CN = name, OU = role, O = "medfed study <study_id>").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import NameOID

from medfed.errors import IdentityError
from medfed.roles import Role

URI_SCHEME = "medfed"
_STUDY_PREFIX = "medfed study "


@dataclass(frozen=True)
class PeerIdentity:
    """The party a certificate speaks for."""

    name: str
    role: Role
    study_id: str


def identity_uri(study_id: str, role: Role, name: str) -> str:
    """The SAN URI naming a party; parts are percent-encoded so any id stays one URI."""
    return f"{URI_SCHEME}://{quote(study_id, safe='')}/{role.value}/{quote(name, safe='')}"


def spki(public_key: PublicKeyTypes) -> bytes:
    """A public key's DER SubjectPublicKeyInfo, to compare keys by value."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_cert(pem: bytes) -> x509.Certificate:
    """Parse one PEM certificate; garbage becomes :class:`IdentityError`."""
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise IdentityError(f"not a PEM certificate: {exc}") from None


def _attr(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def _subject_label(cert: x509.Certificate) -> str:
    """A name to put in error messages, even for a certificate we cannot otherwise parse."""
    return _attr(cert, NameOID.COMMON_NAME) or cert.subject.rfc4514_string()


def _role(value: str, cert: x509.Certificate) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise IdentityError(
            f"certificate for {_subject_label(cert)!r} names unknown role {value!r}"
        ) from None


def _from_uri(uri: str, cert: x509.Certificate) -> PeerIdentity:
    parts = urlsplit(uri)
    segments = parts.path.split("/")
    # path is "/<role>/<name>": a leading empty segment, then exactly two.
    if not parts.netloc or len(segments) != 3 or segments[0] or not all(segments[1:]):
        raise IdentityError(
            f"certificate for {_subject_label(cert)!r} has malformed identity URI {uri!r}; "
            f"expected {URI_SCHEME}://<study>/<role>/<name>"
        )
    return PeerIdentity(
        name=unquote(segments[2]), role=_role(segments[1], cert), study_id=unquote(parts.netloc)
    )


def identity_from_cert(pem: bytes) -> PeerIdentity:
    """Read the name, role and study a PEM certificate was issued for.

    Raises :class:`IdentityError` if the certificate is unreadable, carries a
    malformed ``medfed://`` URI, or has neither such a URI nor CN/OU/O fields.
    """
    cert = load_cert(pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = [
            u
            for u in san.get_values_for_type(x509.UniformResourceIdentifier)
            if urlsplit(u).scheme == URI_SCHEME
        ]
    except x509.ExtensionNotFound:
        uris = []
    if len(uris) > 1:
        raise IdentityError(
            f"certificate for {_subject_label(cert)!r} carries {len(uris)} identity URIs; "
            "expected one"
        )
    if uris:
        return _from_uri(uris[0], cert)
    name = _attr(cert, NameOID.COMMON_NAME)
    role = _attr(cert, NameOID.ORGANIZATIONAL_UNIT_NAME)
    org = _attr(cert, NameOID.ORGANIZATION_NAME) or ""
    if not name or not role or not org.startswith(_STUDY_PREFIX):
        raise IdentityError(
            f"certificate {cert.subject.rfc4514_string()!r} names no medfed party: "
            "no medfed:// SAN URI and no CN / OU / O='medfed study <id>' subject"
        )
    return PeerIdentity(name=name, role=_role(role, cert), study_id=org.removeprefix(_STUDY_PREFIX))


def check_validity(cert_pem: bytes, *, now: datetime | None = None) -> None:
    """Refuse a certificate that is expired or not yet valid at ``now`` (default: now, UTC).

    A naive ``now`` is taken as UTC, matching how certificates store time.
    """
    cert = load_cert(cert_pem)
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    label = _subject_label(cert)
    if now >= cert.not_valid_after_utc:
        raise IdentityError(
            f"certificate for {label!r} expired at {cert.not_valid_after_utc.isoformat()}; "
            "re-provision the kit"
        )
    if now < cert.not_valid_before_utc:
        raise IdentityError(
            f"certificate for {label!r} is not valid until "
            f"{cert.not_valid_before_utc.isoformat()}; check this machine's clock"
        )


def verify_issued_by(cert_pem: bytes, ca_pem: bytes) -> None:
    """Check that ``cert_pem`` was signed by the CA in ``ca_pem``.

    Only the signature and issuer name are checked here; validity dates are
    :func:`check_validity`'s job. Any mismatch is one opaque :class:`IdentityError`.
    """
    cert, ca = load_cert(cert_pem), load_cert(ca_pem)
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise IdentityError(
            f"certificate for {_subject_label(cert)!r} was not issued by this study's CA "
            f"({_subject_label(ca)!r})"
        ) from None


def public_key_pem(cert_pem: bytes) -> bytes:
    """The SubjectPublicKeyInfo PEM of a certificate's key (what a suite's ``load_verify_key`` reads)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise IdentityError(f"not a PEM certificate: {exc}") from None
    return cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def certificate_fingerprint(cert_pem: bytes) -> str:
    """SHA-256 of the certificate's DER in lower-case hex (what ``openssl x509 -fingerprint -sha256``
    shows): how a task pins the study CA it must later be checked against."""
    return load_cert(cert_pem).fingerprint(hashes.SHA256()).hex()


def is_ca_certificate(cert: x509.Certificate) -> bool:
    """Whether ``cert`` says it is a CA (BasicConstraints ca=True); missing or malformed: not one."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return False
