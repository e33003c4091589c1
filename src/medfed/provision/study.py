"""Provision a study: one study file in, a CA and one startup kit per party out.

Layout of ``out_dir``::

    ca/ca.key, ca/ca.pem      the study CA — keep ca.key offline, never ship it
    <party>/                  one startup kit per party (see medfed.pki.kit)
    README.txt                who got which kit

Every party is certified ahead of time by the study CA (clause 5.4.2.3a).
"""

from __future__ import annotations

from pathlib import Path

from medfed.core.config import CryptoSuiteName, Encryption, StudyConfig, dump_study
from medfed.crypto import get_suite
from medfed.errors import ConfigError
from medfed.pki import CertificateAuthority, StartupKit, write_kit
from medfed.pki._files import write_private
from medfed.pki.gm_certs import create_gm_authority, issue_gm_certificate
from medfed.pki.kit import (
    DISPATCHER_CERT_FILE,
    HE_PUBLIC_FILE,
    HE_SECRET_FILE,
    OWNERS_DIR,
    PEERS_DIR,
)
from medfed.pki.suite_identity import SM2_CA_FILE, SM2_CERT_FILE, SM2_KEY_FILE
from medfed.privacy.he import VectorScheme, generate_scheme
from medfed.roles import Role

CA_DIR = "ca"
README_FILE = "README.txt"
STUDY_FILE = "study.toml"
# The dispatcher always answers on loopback so local runs (simulation, PoC) verify.
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1")


def _check_out_dir(study: StudyConfig, out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"output path {out_dir} exists and is not a folder")
    if out_dir.is_dir() and not force:
        entries = sorted(p.name for p in out_dir.iterdir())
        if entries:
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise ConfigError(
                f"output folder {out_dir} is not empty ({shown}); provisioning would "
                "overwrite keys there — choose an empty folder or pass force=True"
            )
    # casefold: on case-insensitive disks "CA" would land in the CA's own folder.
    clash = [p.name for p in study.parties if p.name.casefold() == CA_DIR]
    if clash:
        raise ConfigError(
            f"[[parties]] name {clash[0]!r} is reserved: its kit folder would hold the CA key; "
            "rename the party"
        )


def _dispatcher_hosts(study: StudyConfig) -> tuple[str, ...]:
    # dict.fromkeys: dedupe while keeping order.
    return tuple(dict.fromkeys((_LOOPBACK_HOSTS[0], study.dispatcher_host, _LOOPBACK_HOSTS[1])))


def _readme(study: StudyConfig) -> str:
    width = max(len(p.name) for p in study.parties)
    rows = "\n".join(f"  {p.name:<{width}}  {p.role.value}" for p in study.parties)
    return (
        f"medfed startup kits for study {study.study_id!r}\n"
        f"\n"
        f"Dispatcher: {study.dispatcher_host}:{study.dispatcher_port}\n"
        f"\n"
        f"Parties (folder = party name, then role):\n{rows}\n"
        f"\n"
        f"Give each party only its own folder. Each holds key.pem (private: keep it\n"
        f"mode 0600), cert.pem, ca.pem (the study's trust bundle) and kit.toml.\n"
        f"\n"
        f"{CA_DIR}/ca.key is the study CA's private key: anyone holding it can join the\n"
        f"study as any party. Keep it offline and never copy it into a kit.\n"
    )


def provision_study(
    study: StudyConfig, out_dir: str | Path, *, valid_days: int = 365, force: bool = False
) -> dict[str, StartupKit]:
    """Create the study CA and one startup kit per party under ``out_dir``.

    The CA goes to ``out_dir/ca/``; party ``p`` gets ``out_dir/<p.name>/``. The
    dispatcher's certificate names ``localhost``, the study's dispatcher host and
    ``127.0.0.1``; all kits record the dispatcher's host and port. Certificates
    last ``valid_days`` days. A non-empty ``out_dir`` is refused with
    :class:`ConfigError` unless ``force=True``, which overwrites the CA, kits and
    README there (other files are left alone; stale kits from an earlier CA will
    fail :func:`medfed.pki.load_kit`). Returns kits by party name, in study order.
    """
    out_dir = Path(out_dir)
    _check_out_dir(study, out_dir, force)
    ca = CertificateAuthority.create(study.study_id, valid_days=valid_days)
    out_dir.mkdir(parents=True, exist_ok=True)
    ca.save(out_dir / CA_DIR)
    kits: dict[str, StartupKit] = {}
    for party in study.parties:
        hosts = _dispatcher_hosts(study) if party.role is Role.DISPATCHER else ()
        issued = ca.issue(party.name, party.role, hosts=hosts, valid_days=valid_days)
        kits[party.name] = write_kit(
            out_dir / party.name,
            issued,
            ca_pem=ca.cert_pem,
            study_id=study.study_id,
            dispatcher_host=study.dispatcher_host,
            dispatcher_port=study.dispatcher_port,
        )
        # Every party can read what it agreed to; the dispatcher runs from it.
        (out_dir / party.name / STUDY_FILE).write_text(dump_study(study), encoding="utf-8")
    dispatcher = next(p.name for p in study.parties if p.role is Role.DISPATCHER)
    for party in study.parties:
        (out_dir / party.name / DISPATCHER_CERT_FILE).write_bytes(kits[dispatcher].cert_path.read_bytes())
    # Data owners sign grants with their hospital's key; the dispatcher verifies with these.
    owners = out_dir / dispatcher / OWNERS_DIR
    owners.mkdir(exist_ok=True)
    for name in study.hospitals:
        (owners / f"{name}.pem").write_bytes(kits[name].cert_path.read_bytes())
    if study.security.suite is CryptoSuiteName.GM:
        _provision_sm2(study, out_dir, valid_days=valid_days)
    scheme = study_he_scheme(study)
    if scheme is not None:
        _write_he_keys(study, out_dir, scheme)
    (out_dir / README_FILE).write_text(_readme(study), encoding="utf-8")
    return kits


def _provision_sm2(study: StudyConfig, out_dir: Path, *, valid_days: int) -> None:
    """SM2 identities for a ``gm`` study: an SM2 CA, and per party an SM2 key and certificate
    naming the same party and role as its TLS certificate. The dispatcher's kit gets every
    party's SM2 certificate (to verify challenge answers and grants), every kit the
    dispatcher's and the CA's."""
    gm = get_suite("gm")
    authority = create_gm_authority(study.study_id, valid_days=valid_days)
    write_private(out_dir / CA_DIR / "sm2-ca.key", authority.key.private_bytes(None))
    (out_dir / CA_DIR / SM2_CA_FILE).write_bytes(authority.cert_pem)
    certs: dict[str, bytes] = {}
    for party in study.parties:
        key = gm.generate_signing_key()
        certs[party.name] = issue_gm_certificate(
            authority, party.name, party.role, key.verify_key(), valid_days=valid_days
        )
        write_private(out_dir / party.name / SM2_KEY_FILE, key.private_bytes(None))
        (out_dir / party.name / SM2_CERT_FILE).write_bytes(certs[party.name])
        (out_dir / party.name / SM2_CA_FILE).write_bytes(authority.cert_pem)
    dispatcher = next(p.name for p in study.parties if p.role is Role.DISPATCHER)
    peers = out_dir / dispatcher / PEERS_DIR
    peers.mkdir(exist_ok=True)
    for party in study.parties:
        (peers / f"{party.name}.{SM2_CERT_FILE}").write_bytes(certs[party.name])
        (out_dir / party.name / f"dispatcher.{SM2_CERT_FILE}").write_bytes(certs[dispatcher])


# Who may decrypt: the hospitals (they continue training from the sum) and the result party.
HE_KEY_HOLDERS = (Role.DATA, Role.RESULT)


def study_he_scheme(study: StudyConfig) -> VectorScheme | None:
    """A fresh homomorphic key pair for the study's ``[privacy] encryption``, or None."""
    p = study.privacy
    if p.encryption is Encryption.NONE:
        return None
    addends = max(64, len(study.hospitals))
    if p.encryption is Encryption.PAILLIER:
        return generate_scheme("paillier", bits=p.paillier_bits, max_addends=addends)
    return generate_scheme(p.encryption.value, max_addends=addends)


def _write_he_keys(study: StudyConfig, out_dir: Path, scheme: VectorScheme) -> None:
    secret, public = scheme.secret_bytes(), scheme.public_bytes()
    for party in study.parties:
        if party.role is Role.DISPATCHER:
            (out_dir / party.name / HE_PUBLIC_FILE).write_bytes(public)
        elif party.role in HE_KEY_HOLDERS:
            write_private(out_dir / party.name / HE_SECRET_FILE, secret)
