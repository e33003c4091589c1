from __future__ import annotations

import ipaddress
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from medfed.errors import ConfigError, IdentityError
from medfed.pki import CertificateAuthority, identity_from_cert, verify_issued_by
from medfed.roles import Role


def _cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


@pytest.mark.clause("5.4.2.3a")
def test_ca_is_a_path_length_zero_ca_named_after_the_study(ca: CertificateAuthority) -> None:
    cert = _cert(ca.cert_pem)
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "medfed CA study-1"
    assert cert.issuer == cert.subject


@pytest.mark.clause("5.4.2.3a")
def test_issued_cert_verifies_against_its_ca(ca: CertificateAuthority) -> None:
    issued = ca.issue("hospital-a", Role.DATA)
    verify_issued_by(issued.cert_pem, ca.cert_pem)
    # And under a strict RFC 5280 path validation, as a TLS client.
    verifier = PolicyBuilder().store(Store([_cert(ca.cert_pem)])).build_client_verifier()
    verifier.verify(_cert(issued.cert_pem), [])


@pytest.mark.clause("5.4.2.3a")
def test_leaf_carries_name_role_study_and_tls_extensions(ca: CertificateAuthority) -> None:
    issued = ca.issue("hospital-a", Role.DATA)
    cert = _cert(issued.cert_pem)
    subject = {a.oid: a.value for a in cert.subject}
    assert subject[NameOID.COMMON_NAME] == "hospital-a"
    assert subject[NameOID.ORGANIZATIONAL_UNIT_NAME] == "data"
    assert subject[NameOID.ORGANIZATION_NAME] == "medfed study study-1"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        "medfed://study-1/data/hospital-a"
    ]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = _cert(ca.cert_pem).extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert aki.key_identifier == ca_ski.value.digest
    assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)


@pytest.mark.clause("5.4.2.3a")
def test_role_name_and_study_are_parsed_back(ca: CertificateAuthority) -> None:
    identity = identity_from_cert(ca.issue("initiator", Role.INITIATOR).cert_pem)
    assert (identity.name, identity.role, identity.study_id) == (
        "initiator",
        Role.INITIATOR,
        "study-1",
    )


@pytest.mark.clause("5.4.2.3a")
def test_hosts_become_dns_and_ip_entries(ca: CertificateAuthority) -> None:
    issued = ca.issue("dispatcher", Role.DISPATCHER, hosts=("localhost", "127.0.0.1", "::1"))
    san = _cert(issued.cert_pem).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.value.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    verifier = (
        PolicyBuilder()
        .store(Store([_cert(ca.cert_pem)]))
        .build_server_verifier(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    )
    verifier.verify(_cert(issued.cert_pem), [])


def test_default_validity_never_outlives_the_ca(ca: CertificateAuthority) -> None:
    cert = _cert(ca.issue("hospital-a", Role.DATA, valid_days=10_000).cert_pem)
    assert cert.not_valid_after_utc <= ca.not_after


def test_explicit_dates_are_honoured_even_in_the_past(ca: CertificateAuthority) -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    issued = ca.issue("old", Role.DATA, not_before=start, not_after=start + timedelta(days=1))
    cert = _cert(issued.cert_pem)
    assert cert.not_valid_before_utc == start
    assert cert.not_valid_after_utc == start + timedelta(days=1)


def test_end_before_start_is_refused(ca: CertificateAuthority) -> None:
    now = datetime.now(UTC)
    with pytest.raises(ConfigError, match="before it starts"):
        ca.issue("x", Role.DATA, not_before=now, not_after=now - timedelta(seconds=1))


def test_save_writes_key_0600_and_load_round_trips(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    ca.save(tmp_path / "ca")
    key_mode = stat.S_IMODE((tmp_path / "ca" / "ca.key").stat().st_mode)
    assert key_mode == 0o600
    loaded = CertificateAuthority.load(tmp_path / "ca")
    assert loaded.study_id == "study-1" and loaded.cert_pem == ca.cert_pem
    # The loaded CA can still issue certificates the original CA's bundle accepts.
    verify_issued_by(loaded.issue("late", Role.DATA).cert_pem, ca.cert_pem)


def test_save_over_a_loose_key_file_leaves_it_0600(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    (tmp_path / "ca.key").write_bytes(b"old")
    (tmp_path / "ca.key").chmod(0o644)
    ca.save(tmp_path)
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600


def test_load_refuses_a_world_readable_ca_key(ca: CertificateAuthority, tmp_path: Path) -> None:
    ca.save(tmp_path)
    (tmp_path / "ca.key").chmod(0o644)
    with pytest.raises(IdentityError, match="chmod 600"):
        CertificateAuthority.load(tmp_path)


def test_load_refuses_a_key_from_another_ca(ca: CertificateAuthority, tmp_path: Path) -> None:
    ca.save(tmp_path / "a")
    CertificateAuthority.create("study-1").save(tmp_path / "b")
    (tmp_path / "a" / "ca.pem").write_bytes((tmp_path / "b" / "ca.pem").read_bytes())
    with pytest.raises(IdentityError, match="does not match"):
        CertificateAuthority.load(tmp_path / "a")


def test_load_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="ca.key"):
        CertificateAuthority.load(tmp_path)
