"""SM2 certificates from an SM2 study CA: issue, verify, and every refusal."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import pem

from medfed.crypto import CryptoError, SigningKey, get_suite
from medfed.errors import ConfigError, IdentityError
from medfed.pki.gm_certs import (
    SM2_WITH_SM3,
    GmAuthority,
    create_gm_authority,
    issue_gm_certificate,
    verify_gm_certificate,
)
from medfed.roles import Role

STUDY = "study-1"


@pytest.fixture(scope="module")
def ca() -> GmAuthority:
    return create_gm_authority(STUDY)


@pytest.fixture(scope="module")
def party_key() -> SigningKey:
    return get_suite("gm").generate_signing_key()


@pytest.fixture(scope="module")
def cert(ca: GmAuthority, party_key: SigningKey) -> bytes:
    return issue_gm_certificate(ca, "hospital-a", Role.DATA, party_key.verify_key())


def _der(cert_pem: bytes) -> bytes:
    return pem.unarmor(cert_pem)[2]


@pytest.mark.clause("5.4.2.3a", "5.5.1.3a")
def test_issue_verify_round_trip_gives_identity_and_sm2_key(
    ca: GmAuthority, cert: bytes, party_key: SigningKey
) -> None:
    verified = verify_gm_certificate(cert, ca.cert_pem)
    assert (verified.identity.name, verified.identity.role, verified.identity.study_id) == (
        "hospital-a",
        Role.DATA,
        STUDY,
    )
    assert verified.public_key.fingerprint() == party_key.verify_key().fingerprint()
    verified.public_key.verify(b"challenge", party_key.sign(b"challenge"))
    assert bytes.fromhex("06082a811ccf55018375") in _der(cert)  # OID 1.2.156.10197.1.501
    assert SM2_WITH_SM3 == "1.2.156.10197.1.501"


def test_names_with_reserved_characters_survive_the_uri(ca: GmAuthority) -> None:
    key = get_suite("gm").generate_signing_key().verify_key()
    cert = issue_gm_certificate(ca, "Hôpital A/B", Role.COMPUTE, key)
    assert verify_gm_certificate(cert, ca.cert_pem).identity.name == "Hôpital A/B"


def test_a_changed_subject_byte_breaks_the_signature(ca: GmAuthority, cert: bytes) -> None:
    der = _der(cert)
    forged = der.replace(b"hospital-a", b"hospital-b")
    assert forged != der
    with pytest.raises(CryptoError):
        verify_gm_certificate(pem.armor("CERTIFICATE", forged), ca.cert_pem)


@pytest.mark.parametrize("offset", [-1, -10, 200, 120])
def test_any_tampered_byte_is_refused(ca: GmAuthority, cert: bytes, offset: int) -> None:
    der = bytearray(_der(cert))
    der[offset] ^= 0x01
    with pytest.raises(IdentityError):  # CryptoError or a parse error: both IdentityError
        verify_gm_certificate(pem.armor("CERTIFICATE", bytes(der)), ca.cert_pem)


def test_expired_and_not_yet_valid_certificates_are_refused(
    ca: GmAuthority, party_key: SigningKey
) -> None:
    past = datetime.now(UTC) - timedelta(days=30)
    expired = issue_gm_certificate(
        ca,
        "hospital-a",
        Role.DATA,
        party_key.verify_key(),
        not_before=past,
        not_after=past + timedelta(days=1),
    )
    with pytest.raises(IdentityError, match="validity"):
        verify_gm_certificate(expired, ca.cert_pem)
    fresh = issue_gm_certificate(ca, "hospital-a", Role.DATA, party_key.verify_key())
    with pytest.raises(IdentityError, match="validity"):
        verify_gm_certificate(fresh, ca.cert_pem, now=datetime.now(UTC) + timedelta(days=400))
    with pytest.raises(IdentityError, match="validity"):
        verify_gm_certificate(fresh, ca.cert_pem, now=past)


def test_certificate_of_another_ca_of_the_same_study_is_refused(cert: bytes) -> None:
    impostor = create_gm_authority(STUDY)  # same subject name, another key
    with pytest.raises(CryptoError):
        verify_gm_certificate(cert, impostor.cert_pem)


def test_certificate_of_another_study_is_refused(cert: bytes) -> None:
    with pytest.raises(IdentityError, match="not issued by"):
        verify_gm_certificate(cert, create_gm_authority("study-2").cert_pem)


def test_a_leaf_is_not_accepted_as_the_ca(ca: GmAuthority, cert: bytes) -> None:
    with pytest.raises(IdentityError):
        verify_gm_certificate(cert, cert)


def test_expired_ca_is_refused(party_key: SigningKey) -> None:
    old = create_gm_authority(STUDY, now=datetime.now(UTC) - timedelta(days=10), valid_days=1)
    past = datetime.now(UTC) - timedelta(days=10)
    cert = issue_gm_certificate(old, "h", Role.DATA, party_key.verify_key(), not_before=past)
    with pytest.raises(IdentityError, match="CA certificate is outside"):
        verify_gm_certificate(cert, old.cert_pem)


@pytest.mark.clause("5.5.1.3b")
def test_only_sm2_keys_are_certified(ca: GmAuthority) -> None:
    ecdsa = get_suite("intl").generate_signing_key().verify_key()
    with pytest.raises(CryptoError):
        issue_gm_certificate(ca, "hospital-a", Role.DATA, ecdsa)
    with pytest.raises(CryptoError):
        create_gm_authority(STUDY, key=get_suite("intl").generate_signing_key())


def test_bad_inputs_are_config_or_identity_errors(ca: GmAuthority, party_key: SigningKey) -> None:
    with pytest.raises(ConfigError):
        issue_gm_certificate(ca, "", Role.DATA, party_key.verify_key())
    now = datetime.now(UTC)
    with pytest.raises(ConfigError):
        issue_gm_certificate(
            ca, "h", Role.DATA, party_key.verify_key(), not_before=now, not_after=now
        )
    with pytest.raises(IdentityError):
        verify_gm_certificate(b"not a certificate", ca.cert_pem)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
def test_openssl_verifies_the_chain_with_the_default_sm2_id(
    ca: GmAuthority, cert: bytes, tmp_path: Path
) -> None:
    version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout
    if not version.startswith("OpenSSL 3"):
        pytest.skip(f"needs OpenSSL 3 for -vfyopt distid, found {version!r}")
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    (tmp_path / "leaf.pem").write_bytes(cert)
    result = subprocess.run(
        [
            "openssl",
            "verify",
            "-vfyopt",
            "distid:1234567812345678",
            "-CAfile",
            str(tmp_path / "ca.pem"),
            str(tmp_path / "leaf.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
