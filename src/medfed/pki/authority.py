"""The study's certificate authority: certifies every party ahead of time (clause 5.4.2.3a).

One throw-away ECDSA P-256 CA per study. It signs one leaf certificate per party;
the leaf carries the party's name, role and study in a SAN URI
``medfed://<study_id>/<role>/<name>`` so that a peer's identity is read from the
certificate alone, never from what the peer claims in a message.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from medfed.errors import ConfigError, IdentityError
from medfed.pki._files import loose_permissions, write_private
from medfed.pki.identity import identity_uri, spki
from medfed.roles import Role

CA_KEY_FILE = "ca.key"
CA_CERT_FILE = "ca.pem"
_CA_CN_PREFIX = "medfed CA "
# Back-date certificates a little so a peer whose clock runs slightly behind
# does not reject a kit that was provisioned a moment ago.
_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class IssuedIdentity:
    """A party's private key and certificate, both PEM-encoded."""

    name: str
    role: Role
    key_pem: bytes
    cert_pem: bytes


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _key_usage(*allowed: str) -> x509.KeyUsage:
    """A KeyUsage with only the named bits set (the constructor wants all nine)."""
    bits = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    unknown = set(allowed) - set(bits)
    if unknown:  # a typo would otherwise silently clear the bit
        raise ValueError(f"unknown KeyUsage bits: {sorted(unknown)}")
    return x509.KeyUsage(**{bit: bit in allowed for bit in bits})


def _host_entry(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


class CertificateAuthority:
    """An ECDSA P-256 CA bound to one study; create it, issue leaves, save it offline."""

    def __init__(self, study_id: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate):
        self.study_id = study_id
        self._key = key
        self._cert = cert

    @classmethod
    def create(cls, study_id: str, *, valid_days: int = 365) -> CertificateAuthority:
        """Make a fresh self-signed CA for ``study_id``, valid ``valid_days`` days from now."""
        if not study_id:
            raise ConfigError("a CA needs a non-empty study id")
        if valid_days < 1:
            raise ConfigError(f"valid_days must be >= 1, not {valid_days}")
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, _CA_CN_PREFIX + study_id),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"medfed study {study_id}"),
            ]
        )
        start = datetime.now(UTC) - _CLOCK_SKEW
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=valid_days))
            # path_length=0: this CA signs parties only, never another CA.
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                _key_usage("key_cert_sign", "crl_sign"),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(study_id, key, cert)

    @property
    def cert_pem(self) -> bytes:
        """The CA certificate: the trust bundle every kit carries."""
        return self._cert.public_bytes(serialization.Encoding.PEM)

    @property
    def not_after(self) -> datetime:
        """When the CA certificate expires (UTC)."""
        return self._cert.not_valid_after_utc

    def issue(
        self,
        name: str,
        role: Role,
        *,
        hosts: Sequence[str] = (),
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        valid_days: int = 365,
    ) -> IssuedIdentity:
        """Issue a key and certificate for party ``name`` acting as ``role``.

        ``hosts`` are DNS names or IP address strings the party serves on (server
        parties only). Validity runs from ``not_before`` (default: now) to
        ``not_after`` (default: ``valid_days`` later, but never past the CA's own
        expiry). Explicit dates are taken as given so tests can mint expired
        certificates; a ``not_after`` before ``not_before`` is refused.
        """
        if not name:
            raise ConfigError("a certificate needs a non-empty party name")
        start = not_before if not_before is not None else datetime.now(UTC) - _CLOCK_SKEW
        if not_after is None:
            end = min(start + timedelta(days=valid_days), self.not_after)
        else:
            end = not_after
        if end <= start:
            raise ConfigError(
                f"certificate for {name!r} would expire ({end}) before it starts ({start})"
            )
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, name),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role.value),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"medfed study {self.study_id}"),
            ]
        )
        san: list[x509.GeneralName] = [
            x509.UniformResourceIdentifier(identity_uri(self.study_id, role, name))
        ]
        san += [_host_entry(h) for h in dict.fromkeys(hosts)]  # dedupe, keep order
        ca_ski = self._cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                _key_usage("digital_signature"),
                critical=True,
            )
            # Both: every party is a TLS client, and the dispatcher is also a server.
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        return IssuedIdentity(
            name=name,
            role=role,
            key_pem=_private_pem(key),
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        )

    def save(self, directory: str | Path) -> None:
        """Write ``ca.key`` (mode 0600 from creation) and ``ca.pem`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(directory / CA_KEY_FILE, _private_pem(self._key))
        (directory / CA_CERT_FILE).write_bytes(self.cert_pem)

    @classmethod
    def load(cls, directory: str | Path) -> CertificateAuthority:
        """Read a CA saved by :meth:`save`; refuses a loose key mode or a key/cert mismatch."""
        directory = Path(directory)
        key_path, cert_path = directory / CA_KEY_FILE, directory / CA_CERT_FILE
        for path in (key_path, cert_path):
            if not path.is_file():
                raise IdentityError(f"CA folder {directory} lacks {path.name}")
        mode = loose_permissions(key_path)
        if mode is not None:
            raise IdentityError(
                f"CA key {key_path} has mode {mode:o}, open to group or others; "
                f"run `chmod 600 {key_path}`"
            )
        try:
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        except (ValueError, TypeError) as exc:
            raise IdentityError(
                f"CA folder {directory} holds an unreadable key or certificate: {exc}"
            ) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise IdentityError(f"CA key {key_path} is not an EC key")
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        cn = str(cns[0].value) if cns else ""
        if not cn.startswith(_CA_CN_PREFIX):
            raise IdentityError(
                f"{cert_path} is not a medfed study CA (subject {cert.subject.rfc4514_string()})"
            )
        if spki(key.public_key()) != spki(cert.public_key()):
            raise IdentityError(f"CA key {key_path} does not match {cert_path}")
        try:
            cert.verify_directly_issued_by(cert)
        except (ValueError, TypeError, InvalidSignature):
            raise IdentityError(f"{cert_path} is not a valid self-signed CA certificate") from None
        return cls(cn.removeprefix(_CA_CN_PREFIX), key, cert)
