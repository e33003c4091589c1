from __future__ import annotations

import ipaddress
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509

from medfed.core.config import Party, StudyConfig, load_study
from medfed.errors import ConfigError, IdentityError
from medfed.pki import CertificateAuthority, identity_from_cert, load_kit, verify_issued_by
from medfed.provision import provision_study
from medfed.roles import Role

EXAMPLE = Path(__file__).parents[3] / "examples" / "pneumonia-3-hospitals.toml"


@pytest.fixture(scope="module")
def study() -> StudyConfig:
    return load_study(EXAMPLE)


@pytest.fixture(scope="module")
def provisioned(study: StudyConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kits")
    provision_study(study, out)
    return out


def _san(kit_dir: Path) -> x509.SubjectAlternativeName:
    cert = x509.load_pem_x509_certificate((kit_dir / "cert.pem").read_bytes())
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


@pytest.mark.clause("5.4.2.3a")
def test_example_study_yields_a_valid_kit_per_party(study: StudyConfig, tmp_path: Path) -> None:
    kits = provision_study(study, tmp_path / "out")
    assert list(kits) == [
        "dispatcher",
        "hospital-a",
        "hospital-b",
        "hospital-c",
        "initiator",
        "result",
    ]
    expected_roles = {p.name: p.role for p in study.parties}
    for name, kit in kits.items():
        loaded = load_kit(tmp_path / "out" / name)
        assert loaded == kit
        assert kit.role is expected_roles[name]
        assert identity_from_cert(kit.cert_path.read_bytes()).role is expected_roles[name]
        assert kit.study_id == "pneumonia-demo"
        assert (kit.dispatcher_host, kit.dispatcher_port) == (
            study.dispatcher_host,
            study.dispatcher_port,
        )
    assert [k.role for k in kits.values()].count(Role.DATA) == 3


@pytest.mark.clause("5.4.2.3a")
def test_every_kit_is_certified_by_the_saved_ca(provisioned: Path) -> None:
    ca = CertificateAuthority.load(provisioned / "ca")
    assert ca.study_id == "pneumonia-demo"
    for party in ("dispatcher", "hospital-a", "initiator", "result"):
        verify_issued_by((provisioned / party / "cert.pem").read_bytes(), ca.cert_pem)
        assert (provisioned / party / "ca.pem").read_bytes() == ca.cert_pem


@pytest.mark.clause("5.4.2.3a")
def test_dispatcher_cert_always_names_loopback(study: StudyConfig, tmp_path: Path) -> None:
    provision_study(replace(study, dispatcher_host="fl.hospital.example"), tmp_path)
    san = _san(tmp_path / "dispatcher")
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "fl.hospital.example"]
    # Clients serve nothing, so they name no hosts.
    assert _san(tmp_path / "hospital-a").get_values_for_type(x509.IPAddress) == []


def test_loopback_host_is_not_repeated(provisioned: Path) -> None:
    assert _san(provisioned / "dispatcher").get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1")
    ]


def test_every_private_key_is_0600(provisioned: Path) -> None:
    keys = [provisioned / "ca" / "ca.key", *provisioned.glob("*/key.pem")]
    assert len(keys) == 7
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_ca_key_stays_out_of_every_kit(provisioned: Path) -> None:
    keys = sorted(p.relative_to(provisioned).as_posix() for p in provisioned.rglob("*.key"))
    # The CA keys stay in ca/; each kit holds only its own party's SM2 key (the example is a gm study).
    assert [k for k in keys if not k.endswith("/sm2.key")] == ["ca/ca.key", "ca/sm2-ca.key"]
    assert all(k.count("/") == 1 for k in keys)
    assert sorted(p.name for p in (provisioned / "hospital-a").iterdir()) == [
        "ca.pem",
        "cert.pem",
        "dispatcher.pem",
        "dispatcher.sm2.pem",
        "key.pem",
        "kit.toml",
        "sm2-ca.pem",
        "sm2.key",
        "sm2.pem",
        "study.toml",
    ]
    from medfed.core.config import load_study

    assert load_study(provisioned / "dispatcher" / "study.toml").hospitals == (
        "hospital-a", "hospital-b", "hospital-c",
    )


def test_readme_lists_parties_roles_and_offline_ca_key(provisioned: Path) -> None:
    text = (provisioned / "README.txt").read_text()
    assert "hospital-c  data" in text and "initiator   initiator" in text
    assert "ca/ca.key" in text and "offline" in text


def test_non_empty_out_dir_is_refused_unless_forced(study: StudyConfig, tmp_path: Path) -> None:
    provision_study(study, tmp_path)
    old = (tmp_path / "ca" / "ca.pem").read_bytes()
    with pytest.raises(ConfigError, match="not empty.*force=True"):
        provision_study(study, tmp_path)
    assert (tmp_path / "ca" / "ca.pem").read_bytes() == old
    kits = provision_study(study, tmp_path, force=True)
    assert (tmp_path / "ca" / "ca.pem").read_bytes() != old
    load_kit(kits["hospital-b"].directory)


def test_out_dir_that_is_a_file_is_refused(study: StudyConfig, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        provision_study(study, tmp_path / "f", force=True)


def test_party_named_ca_is_refused(study: StudyConfig, tmp_path: Path) -> None:
    clashing = replace(study, parties=(*study.parties, Party("CA", Role.CA)))
    with pytest.raises(ConfigError, match="reserved"):
        provision_study(clashing, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_valid_days_sets_certificate_lifetime(study: StudyConfig, tmp_path: Path) -> None:
    kits = provision_study(study, tmp_path, valid_days=7)
    cert = x509.load_pem_x509_certificate(kits["result"].cert_path.read_bytes())
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 6.9 < lifetime.total_seconds() / 86400 <= 7


@pytest.mark.clause("5.4.3.4-1")
def test_an_encrypted_study_gives_the_aggregator_only_the_public_key(tmp_path: Path) -> None:
    from medfed.core.config import Encryption, PrivacyConfig
    from medfed.privacy.he import load_scheme

    root = Path(__file__).resolve().parents[3]
    study = replace(
        load_study(root / "examples" / "pneumonia-3-hospitals.toml"),
        privacy=PrivacyConfig(encryption=Encryption.PAILLIER),
    )
    provision_study(study, tmp_path)
    dispatcher = load_kit(tmp_path / "dispatcher")
    assert dispatcher.he_key_path == tmp_path / "dispatcher" / "he.pub"
    assert not load_scheme(dispatcher.he_key_path.read_bytes()).can_decrypt
    for name in (*study.hospitals, "result"):
        key = load_kit(tmp_path / name).he_key_path
        assert key is not None and key.name == "he.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert load_scheme(key.read_bytes()).can_decrypt
    assert load_kit(tmp_path / "initiator").he_key_path is None


@pytest.mark.clause("5.5.1.3a", "5.4.2.3a")
def test_a_gm_study_gives_every_party_an_sm2_identity_bound_to_its_name(tmp_path: Path) -> None:
    from medfed.core.config import CryptoSuiteName, SecurityConfig
    from medfed.crypto import get_suite
    from medfed.pki.gm_certs import verify_gm_certificate
    from medfed.pki.suite_identity import signing_key, verify_key

    root = Path(__file__).resolve().parents[3]
    study = replace(
        load_study(root / "examples" / "pneumonia-3-hospitals.toml"),
        security=SecurityConfig(suite=CryptoSuiteName.GM),
    )
    provision_study(study, tmp_path)
    ca = (tmp_path / "ca" / "sm2-ca.pem").read_bytes()
    for party in study.parties:
        kit = tmp_path / party.name
        assert stat.S_IMODE((kit / "sm2.key").stat().st_mode) == 0o600
        verified = verify_gm_certificate((kit / "sm2.pem").read_bytes(), ca)
        assert (verified.identity.name, verified.identity.role) == (party.name, party.role)
        key = signing_key(kit, "gm")
        signature = key.sign(b"evidence")
        verify_key((kit / "sm2.pem").read_bytes(), "gm", ca_pem=ca, name=party.name).verify(b"evidence", signature)
        assert get_suite("gm").name == "gm"
    # The dispatcher holds every party's SM2 certificate; a certificate for another name is refused.
    peers = tmp_path / "dispatcher" / "peers"
    assert sorted(p.name for p in peers.iterdir()) == sorted(f"{p.name}.sm2.pem" for p in study.parties)
    with pytest.raises(IdentityError):
        verify_key((peers / "hospital-a.sm2.pem").read_bytes(), "gm", ca_pem=ca, name="hospital-b")
