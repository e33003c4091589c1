from __future__ import annotations

import ssl
import stat
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from medfed.errors import ConfigError, IdentityError
from medfed.pki import CertificateAuthority, PeerIdentity, StartupKit, load_kit, write_kit
from medfed.roles import Role

STUDY = "study-1"  # matches conftest's CA


def _write(
    ca: CertificateAuthority,
    directory: Path,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> StartupKit:
    return write_kit(
        directory,
        ca.issue("hospital-a", Role.DATA, not_before=not_before, not_after=not_after),
        ca_pem=ca.cert_pem,
        study_id=STUDY,
        dispatcher_host="127.0.0.1",
        dispatcher_port=8443,
    )


@pytest.mark.clause("5.4.2.3a")
def test_written_kit_loads_with_identity_and_dispatcher(hospital_kit: StartupKit) -> None:
    kit = load_kit(hospital_kit.directory)
    assert kit == hospital_kit
    assert kit.identity() == PeerIdentity("hospital-a", Role.DATA, STUDY)
    assert (kit.dispatcher_host, kit.dispatcher_port) == ("127.0.0.1", 8443)
    assert stat.S_IMODE(kit.key_path.stat().st_mode) == 0o600


def test_kit_toml_escapes_awkward_strings(ca: CertificateAuthority, tmp_path: Path) -> None:
    host = 'we"ird\\host\x7f\n'
    write_kit(
        tmp_path,
        ca.issue("hospital-a", Role.DATA),
        ca_pem=ca.cert_pem,
        study_id=STUDY,
        dispatcher_host=host,
        dispatcher_port=1,
    )
    assert tomllib.loads((tmp_path / "kit.toml").read_text())["dispatcher_host"] == host


def test_expired_kit_is_refused_with_expired(ca: CertificateAuthority, tmp_path: Path) -> None:
    past = datetime.now(UTC) - timedelta(days=2)
    _write(ca, tmp_path, not_before=past - timedelta(days=30), not_after=past)
    with pytest.raises(IdentityError, match="expired"):
        load_kit(tmp_path)


def test_kit_from_another_ca_is_refused(ca: CertificateAuthority, tmp_path: Path) -> None:
    kit = _write(CertificateAuthority.create(STUDY), tmp_path)
    kit.ca_path.write_bytes(ca.cert_pem)  # the stranger's cert, our study's bundle
    with pytest.raises(IdentityError, match="not issued"):
        load_kit(tmp_path)


def test_key_not_matching_the_certificate_is_refused(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    kit = _write(ca, tmp_path)
    other = ca.issue("hospital-a", Role.DATA)
    kit.key_path.write_bytes(other.key_pem)
    with pytest.raises(IdentityError, match="does not match the certificate"):
        load_kit(tmp_path)


def test_world_readable_key_is_refused_with_chmod_fix(hospital_kit: StartupKit) -> None:
    hospital_kit.key_path.chmod(0o644)
    with pytest.raises(IdentityError, match="chmod 600") as info:
        load_kit(hospital_kit.directory)
    assert str(hospital_kit.key_path) in str(info.value)


@pytest.mark.parametrize("missing", ["key.pem", "cert.pem", "ca.pem", "kit.toml"])
def test_missing_file_is_named(hospital_kit: StartupKit, missing: str) -> None:
    (hospital_kit.directory / missing).unlink()
    with pytest.raises(IdentityError, match=missing):
        load_kit(hospital_kit.directory)


def test_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="does not exist"):
        load_kit(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = ", "not valid TOML"),
        ('name = "hospital-a"\n', "missing keys: role, study_id, dispatcher_host"),
        (
            'name = "hospital-a"\nrole = "surgeon"\nstudy_id = "study-1"\n'
            'dispatcher_host = "h"\ndispatcher_port = 1\n',
            "role 'surgeon' is not one of",
        ),
        (
            'name = "hospital-a"\nrole = "data"\nstudy_id = "study-1"\n'
            'dispatcher_host = "h"\ndispatcher_port = "8443"\n',
            "dispatcher_port must be an integer",
        ),
        (
            'name = "hospital-a"\nrole = "data"\nstudy_id = "study-1"\n'
            'dispatcher_host = "h"\ndispatcher_port = 70000\ncolour = "red"\n',
            "unknown keys: colour; dispatcher_port must be an integer in 0..65535",
        ),
    ],
)
def test_invalid_kit_toml_is_a_clear_config_error(
    hospital_kit: StartupKit, text: str, message: str
) -> None:
    (hospital_kit.directory / "kit.toml").write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_kit(hospital_kit.directory)
    assert "kit.toml" in str(info.value)


def test_kit_toml_naming_another_party_is_refused(hospital_kit: StartupKit) -> None:
    path = hospital_kit.directory / "kit.toml"
    path.write_text(path.read_text().replace('"hospital-a"', '"hospital-b"'))
    with pytest.raises(IdentityError, match="kit.toml says"):
        load_kit(hospital_kit.directory)


def test_kits_complete_a_mutual_tls_handshake(ca: CertificateAuthority, tmp_path: Path) -> None:
    """In-memory TLS (no sockets): the dispatcher's cert serves 127.0.0.1, the client's authenticates."""
    server_kit = write_kit(
        tmp_path / "dispatcher",
        ca.issue("dispatcher", Role.DISPATCHER, hosts=("localhost", "127.0.0.1")),
        ca_pem=ca.cert_pem,
        study_id=STUDY,
        dispatcher_host="127.0.0.1",
        dispatcher_port=0,
    )
    client_kit = _write(ca, tmp_path / "hospital-a")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(server_kit.cert_path, server_kit.key_path)
    server_ctx.load_verify_locations(server_kit.ca_path)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    client_ctx = ssl.create_default_context(cafile=str(client_kit.ca_path))
    client_ctx.load_cert_chain(client_kit.cert_path, client_kit.key_path)

    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="127.0.0.1")
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for side, obj in (("client", client), ("server", server)):
            if not done[side]:
                try:
                    obj.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            break
    assert all(done.values())
    peer = server.getpeercert()
    assert peer is not None
    assert ("URI", "medfed://study-1/data/hospital-a") in peer["subjectAltName"]
