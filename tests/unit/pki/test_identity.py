from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from medfed.errors import IdentityError
from medfed.pki import (
    CertificateAuthority,
    PeerIdentity,
    check_validity,
    identity_from_cert,
    verify_issued_by,
)
from medfed.roles import Role


def _self_signed(names: list[x509.NameAttribute[str]], san: list[x509.GeneralName]) -> bytes:
    """A bare certificate with a chosen subject and SAN, to feed the parser odd inputs."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(names))
        .issuer_name(x509.Name(names))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def test_unusual_names_survive_the_uri_round_trip() -> None:
    ca = CertificateAuthority.create("study/with spaces:and@odd")
    identity = identity_from_cert(ca.issue("ward 7/b", Role.COMPUTE).cert_pem)
    assert identity == PeerIdentity("ward 7/b", Role.COMPUTE, "study/with spaces:and@odd")


def test_subject_fallback_when_there_is_no_uri() -> None:
    pem = _self_signed(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "hospital-b"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "data"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "medfed study s9"),
        ],
        [x509.DNSName("example.org")],
    )
    assert identity_from_cert(pem) == PeerIdentity("hospital-b", Role.DATA, "s9")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("medfed://s1/data", "malformed"),
        ("medfed:///data/a", "malformed"),
        ("medfed://s1/data/a/b", "malformed"),
        ("medfed://s1/surgeon/a", "unknown role 'surgeon'"),
    ],
)
def test_malformed_identity_uri_is_refused(uri: str, message: str) -> None:
    pem = _self_signed(
        [x509.NameAttribute(NameOID.COMMON_NAME, "x")], [x509.UniformResourceIdentifier(uri)]
    )
    with pytest.raises(IdentityError, match=message):
        identity_from_cert(pem)


def test_certificate_naming_no_party_is_refused() -> None:
    pem = _self_signed([x509.NameAttribute(NameOID.COMMON_NAME, "web")], [])
    with pytest.raises(IdentityError, match="names no medfed party"):
        identity_from_cert(pem)


def test_garbage_is_not_a_certificate() -> None:
    with pytest.raises(IdentityError, match="not a PEM certificate"):
        identity_from_cert(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")


def test_expired_certificate_message_names_party_date_and_fix(ca: CertificateAuthority) -> None:
    end = datetime(2026, 1, 2, tzinfo=UTC)
    pem = ca.issue(
        "hospital-a", Role.DATA, not_before=end - timedelta(days=30), not_after=end
    ).cert_pem
    with pytest.raises(IdentityError) as info:
        check_validity(pem, now=end + timedelta(seconds=1))
    assert str(info.value) == (
        "certificate for 'hospital-a' expired at 2026-01-02T00:00:00+00:00; re-provision the kit"
    )


def test_not_yet_valid_certificate_is_refused(ca: CertificateAuthority) -> None:
    start = datetime.now(UTC) + timedelta(days=1)
    pem = ca.issue("hospital-a", Role.DATA, not_before=start, not_after=start + timedelta(days=1))
    with pytest.raises(IdentityError, match="not valid until"):
        check_validity(pem.cert_pem)
    check_validity(pem.cert_pem, now=start + timedelta(hours=1))


def test_naive_now_is_taken_as_utc(ca: CertificateAuthority) -> None:
    check_validity(ca.issue("a", Role.DATA).cert_pem, now=datetime.now(UTC).replace(tzinfo=None))


@pytest.mark.parametrize("other_study", ["study-1", "study-2"])
def test_certificate_from_another_ca_is_not_issued_by_ours(
    ca: CertificateAuthority, other_study: str
) -> None:
    # Same study id means same issuer name: only the signature can tell them apart.
    stranger = CertificateAuthority.create(other_study).issue("hospital-a", Role.DATA)
    with pytest.raises(IdentityError, match="not issued by this study's CA"):
        verify_issued_by(stranger.cert_pem, ca.cert_pem)
