"""Does the bundle's signer chain to the trusted CA, act as the result party, and did it sign?

``intl`` bundles (ECDSA P-256 / SHA-256) are checked with pyca/cryptography alone. ``gm``
bundles (SM2 with SM3) need tongsuopy, imported only then: pyca/cryptography parses the SM2
certificates but cannot use SM2 keys, so the public keys are cut out of the DER and handed to
Tongsuo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from medfed_runtime._errors import BundleError
from medfed_runtime._format import SIGNER_ROLE

SM2_WITH_SM3 = "1.2.156.10197.1.501"
ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"


@dataclass(frozen=True)
class Signer:
    """Who signed a bundle, as its verified certificate names it."""

    name: str
    role: str
    study_id: str


def read_trusted_cas(trusted_ca: bytes | str | Path) -> list[x509.Certificate]:
    """Every certificate in a PEM blob or file (a trust bundle may hold the ECDSA and SM2 CAs)."""
    if isinstance(trusted_ca, (str, Path)):
        try:
            pem = Path(trusted_ca).read_bytes()
        except OSError as exc:
            raise BundleError(f"cannot read the trusted CA file {trusted_ca}: {exc.strerror}") from None
    elif isinstance(trusted_ca, (bytes, bytearray)):
        pem = bytes(trusted_ca)
    else:
        raise BundleError(f"trusted_ca must be PEM bytes or a path, not {type(trusted_ca).__name__}")
    try:
        cas = x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise BundleError("the trusted CA is not a PEM certificate") from None
    return cas


def _der_element(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, end) of the DER element at ``pos``."""
    tag, length = buf[pos], buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(buf[pos : pos + n], "big")
        pos += n
    return tag, pos, pos + length


def _spki_der(cert: x509.Certificate) -> bytes:
    """The SubjectPublicKeyInfo of ``cert``: the 7th field of TBSCertificate (6th without version)."""
    tbs = cert.tbs_certificate_bytes
    _, pos, end = _der_element(tbs, 0)
    fields = []
    while pos < end:
        tag, start, stop = _der_element(tbs, pos)
        fields.append((tag, pos, stop))
        pos = stop
    index = 6 if fields[0][0] == 0xA0 else 5
    _, start, stop = fields[index]
    return tbs[start:stop]


class _Sm2:
    """SM2-with-SM3 verification through tongsuopy (only for ``gm`` bundles)."""

    def __init__(self) -> None:
        try:
            from tongsuopy.crypto import hashes as ts_hashes
            from tongsuopy.crypto import serialization as ts_serialization
            from tongsuopy.crypto.asymciphers import ec as ts_ec
            from tongsuopy.crypto.exceptions import (
                InternalError,
                InvalidSignature,
                UnsupportedAlgorithm,
            )
        except ImportError:
            raise BundleError(
                "this bundle is signed with SM2 (national suite); install tongsuopy to verify it"
            ) from None
        self._hashes, self._serialization, self._ec = ts_hashes, ts_serialization, ts_ec
        # What Tongsuo raises for a malformed key or a signature that does not verify.
        self._failures = (InvalidSignature, InternalError, UnsupportedAlgorithm, ValueError, TypeError, IndexError)

    def verify(self, cert: x509.Certificate, data: bytes, signature: bytes) -> bool:
        try:
            key = self._serialization.load_der_public_key(_spki_der(cert))
            if not isinstance(getattr(key, "curve", None), self._ec.SM2):
                return False
            key.verify(signature, data, self._ec.ECDSA(self._hashes.SM3()))
        except self._failures:
            return False
        return True


def _verify_ecdsa(cert: x509.Certificate, data: bytes, signature: bytes) -> bool:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _verifier(suite: str) -> Any:
    if suite == "gm":
        return _Sm2().verify
    if suite == "intl":
        return _verify_ecdsa
    raise BundleError(f"unknown signature suite {suite!r}; expected 'intl' or 'gm'")


def _expected_algorithm(suite: str) -> str:
    return SM2_WITH_SM3 if suite == "gm" else ECDSA_WITH_SHA256


def _in_validity(cert: x509.Certificate, now: datetime, what: str) -> None:
    if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
        raise BundleError(
            f"the {what} is outside its validity period "
            f"({cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d})"
        )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
    except (x509.DuplicateExtension, ValueError) as exc:
        raise BundleError(f"a certificate in the bundle's chain has malformed extensions: {exc}") from None


def _check_signing_certificate(leaf: x509.Certificate) -> None:
    """BundleError unless ``leaf`` is an end-entity certificate whose KeyUsage allows signing.

    The study CA marks every party certificate it issues with digitalSignature; a certificate
    without KeyUsage states no purpose, so it is refused rather than read as "anything goes".
    """
    if _is_ca(leaf):
        # A CA certificate issues identities; it never signs a study's model itself.
        raise BundleError("the signer certificate is a CA certificate, not a study party's signing certificate")
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise BundleError(
            "the signer certificate has no KeyUsage extension; a study party's signing "
            "certificate carries KeyUsage digitalSignature"
        ) from None
    except (x509.DuplicateExtension, ValueError) as exc:
        raise BundleError(f"a certificate in the bundle's chain has malformed extensions: {exc}") from None
    if not usage.digital_signature:
        raise BundleError("the signer certificate is not allowed to sign (its KeyUsage lacks digitalSignature)")


def _identity(cert: x509.Certificate) -> Signer:
    """The party named by the certificate's ``medfed://<study>/<role>/<name>`` SAN URI."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = [u for u in san.get_values_for_type(x509.UniformResourceIdentifier) if u.startswith("medfed://")]
    except x509.ExtensionNotFound:
        uris = []
    if len(uris) != 1:
        raise BundleError("the signer certificate does not name a study party (no medfed:// identity)")
    parts = urlsplit(uris[0])
    segments = parts.path.split("/")
    if len(segments) != 3 or not parts.netloc:
        raise BundleError(f"the signer certificate has a malformed identity {uris[0]!r}")
    return Signer(name=unquote(segments[2]), role=segments[1], study_id=unquote(parts.netloc))


def verify_signed(
    *,
    suite: str,
    signer_pem: bytes,
    data: bytes,
    signature: bytes,
    trusted: list[x509.Certificate],
    now: datetime | None = None,
) -> Signer:
    """Check the signer certificate against ``trusted``, its role, and its signature over ``data``.

    Raises :class:`BundleError` naming the failed check; returns the signer's identity.
    """
    when = now or datetime.now(UTC)
    verify = _verifier(suite)
    try:
        leaf = x509.load_pem_x509_certificate(signer_pem)
    except ValueError:
        raise BundleError("the bundle's signer certificate is not a PEM certificate") from None
    algorithm = _expected_algorithm(suite)
    if leaf.signature_algorithm_oid.dotted_string != algorithm:
        raise BundleError(
            f"the signer certificate is not a {suite} certificate "
            f"(signature algorithm {leaf.signature_algorithm_oid.dotted_string}, expected {algorithm})"
        )
    issuers = [ca for ca in trusted if ca.subject == leaf.issuer]
    chained = [
        ca
        for ca in issuers
        if ca.signature_algorithm_oid.dotted_string == algorithm
        and _is_ca(ca)
        and verify(ca, leaf.tbs_certificate_bytes, leaf.signature)
        and verify(ca, ca.tbs_certificate_bytes, ca.signature)
    ]
    if not chained:
        raise BundleError(
            f"the signer certificate ({leaf.subject.rfc4514_string()}) was not issued by the "
            "trusted CA; this bundle comes from another study or was re-signed"
        )
    # A renewed CA may sit beside its expired predecessor under the same name: any valid one will do.
    current = [ca for ca in chained if ca.not_valid_before_utc <= when < ca.not_valid_after_utc]
    _in_validity((current or chained)[0], when, "trusted CA certificate")
    _in_validity(leaf, when, "signer certificate")
    _check_signing_certificate(leaf)
    signer = _identity(leaf)
    if signer.role != SIGNER_ROLE:
        raise BundleError(
            f"the bundle is signed by {signer.name!r} acting as {signer.role!r}; "
            f"only the study's {SIGNER_ROLE} party may sign a model bundle"
        )
    if not verify(leaf, data, signature):
        raise BundleError(
            "the descriptor's signature does not verify with the signer certificate: "
            "the descriptor was edited or the signer swapped"
        )
    return signer
