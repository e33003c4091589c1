"""Startup kits: the folder each party receives to join a study.

A kit holds ``key.pem`` (the party's private key, mode 0600), ``cert.pem``
(its certificate), ``ca.pem`` (the study CA: the trust bundle) and ``kit.toml``
(name, role, study and where the dispatcher listens). :func:`load_kit` checks
everything a party needs before it dials out, so a broken kit fails at start-up
with a fix, not later as a TLS handshake error.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from medfed.errors import ConfigError, IdentityError
from medfed.pki._files import loose_permissions, write_private
from medfed.pki.authority import IssuedIdentity
from medfed.pki.identity import (
    PeerIdentity,
    check_validity,
    identity_from_cert,
    load_cert,
    spki,
    verify_issued_by,
)
from medfed.roles import Role

KEY_FILE = "key.pem"
CERT_FILE = "cert.pem"
CA_FILE = "ca.pem"
CONFIG_FILE = "kit.toml"
# Homomorphic key material, present when the study encrypts updates: the aggregator's kit
# holds the public half, the hospitals' and the result party's kits the secret half.
HE_PUBLIC_FILE = "he.pub"
HE_SECRET_FILE = "he.key"
# The dispatcher's kit holds each hospital's certificate: the data owners' keys that sign grants.
OWNERS_DIR = "owners"
# Under the gm suite, the dispatcher's kit also holds every party's SM2 certificate.
PEERS_DIR = "peers"
# The dispatcher's certificate in every party's kit: the key its challenge–response answer must verify with.
DISPATCHER_CERT_FILE = "dispatcher.pem"
# A hospital's own consent store (revocations its data owner recorded).
CONSENT_FILE = "consent.db"
_STRING_KEYS = ("name", "role", "study_id", "dispatcher_host")


@dataclass(frozen=True)
class StartupKit:
    """A party's kit on disk; paths are absolute or relative to the working directory."""

    name: str
    role: Role
    study_id: str
    directory: Path
    key_path: Path
    cert_path: Path
    ca_path: Path
    dispatcher_host: str
    dispatcher_port: int

    @property
    def he_key_path(self) -> Path | None:
        """The homomorphic key this kit holds (secret for key holders, public for the aggregator)."""
        for name in (HE_SECRET_FILE, HE_PUBLIC_FILE):
            if (self.directory / name).is_file():
                return self.directory / name
        return None

    def identity(self) -> PeerIdentity:
        """The identity this kit speaks for."""
        return PeerIdentity(name=self.name, role=self.role, study_id=self.study_id)


def _toml_string(value: str) -> str:
    """A TOML basic string; escapes what TOML forbids raw (quote, backslash, controls)."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch < " " or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _kit_toml(name: str, role: Role, study_id: str, host: str, port: int) -> str:
    return (
        "# medfed startup kit: who this party is and where the dispatcher listens.\n"
        f"name = {_toml_string(name)}\n"
        f"role = {_toml_string(role.value)}\n"
        f"study_id = {_toml_string(study_id)}\n"
        f"dispatcher_host = {_toml_string(host)}\n"
        f"dispatcher_port = {port}\n"
    )


def _kit(directory: Path, values: dict[str, Any]) -> StartupKit:
    return StartupKit(
        name=values["name"],
        role=values["role"],
        study_id=values["study_id"],
        directory=directory,
        key_path=directory / KEY_FILE,
        cert_path=directory / CERT_FILE,
        ca_path=directory / CA_FILE,
        dispatcher_host=values["dispatcher_host"],
        dispatcher_port=values["dispatcher_port"],
    )


def write_kit(
    directory: str | Path,
    identity: IssuedIdentity,
    *,
    ca_pem: bytes,
    study_id: str,
    dispatcher_host: str,
    dispatcher_port: int,
) -> StartupKit:
    """Write ``identity``'s kit into ``directory`` (created 0700 if absent).

    The key is written 0600 from creation. Nothing is validated beyond what
    building the file needs — :func:`load_kit` is the gate — so tests can write
    deliberately broken kits.
    """
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(directory / KEY_FILE, identity.key_pem)
    (directory / CERT_FILE).write_bytes(identity.cert_pem)
    (directory / CA_FILE).write_bytes(ca_pem)
    text = _kit_toml(identity.name, identity.role, study_id, dispatcher_host, dispatcher_port)
    (directory / CONFIG_FILE).write_text(text, encoding="utf-8")
    return _kit(
        directory,
        {
            "name": identity.name,
            "role": identity.role,
            "study_id": study_id,
            "dispatcher_host": dispatcher_host,
            "dispatcher_port": dispatcher_port,
        },
    )


def _read_config(path: Path) -> dict[str, Any]:
    """Parse and type-check kit.toml; every problem is a :class:`ConfigError` naming the file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    expected = (*_STRING_KEYS, "dispatcher_port")
    problems = []
    missing = [k for k in expected if k not in raw]
    if missing:
        problems.append(f"missing keys: {', '.join(missing)}")
    unknown = sorted(set(raw) - set(expected))
    if unknown:
        problems.append(f"unknown keys: {', '.join(unknown)}")
    for key in _STRING_KEYS:
        if key in raw and (not isinstance(raw[key], str) or not raw[key]):
            problems.append(f"{key} must be a non-empty string, not {raw[key]!r}")
    port = raw.get("dispatcher_port", 0)
    # bool is an int subclass; `true` is not a port.
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        problems.append(f"dispatcher_port must be an integer in 0..65535, not {port!r}")
    role = raw.get("role")
    if isinstance(role, str) and role not in {r.value for r in Role}:
        problems.append(f"role {role!r} is not one of: {', '.join(r.value for r in Role)}")
    if problems:
        raise ConfigError(f"{path} is invalid: " + "; ".join(problems))
    return {**raw, "role": Role(raw["role"])}


def load_kit(directory: str | Path) -> StartupKit:
    """Load and check a kit: files present, key private, cert from the bundled CA,
    currently valid, matching the key and the names in kit.toml.

    Raises :class:`IdentityError` for a missing file or bad key/certificate, and
    :class:`ConfigError` for a malformed ``kit.toml``; each message says how to fix it.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise IdentityError(f"startup kit folder {directory} does not exist")
    missing = [
        f for f in (KEY_FILE, CERT_FILE, CA_FILE, CONFIG_FILE) if not (directory / f).is_file()
    ]
    if missing:
        raise IdentityError(
            f"startup kit {directory} lacks {', '.join(missing)}; re-provision the kit"
        )
    key_path = directory / KEY_FILE
    mode = loose_permissions(key_path)
    if mode is not None:
        raise IdentityError(
            f"private key {key_path} has mode {mode:o}, open to group or others; "
            f"run `chmod 600 {key_path}`"
        )
    kit = _kit(directory, _read_config(directory / CONFIG_FILE))
    cert_pem, ca_pem = kit.cert_path.read_bytes(), kit.ca_path.read_bytes()
    verify_issued_by(cert_pem, ca_pem)
    check_validity(ca_pem)
    check_validity(cert_pem)
    _check_key_matches(kit.key_path, cert_pem)
    named = identity_from_cert(cert_pem)
    if named != kit.identity():
        raise IdentityError(
            f"{kit.cert_path} is for {named} but {CONFIG_FILE} says {kit.identity()}; "
            "the kit was assembled from different parties — re-provision it"
        )
    return kit


def _check_key_matches(key_path: Path, cert_pem: bytes) -> None:
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise IdentityError(f"{key_path} is not an unencrypted PEM private key: {exc}") from None
    if spki(key.public_key()) != spki(load_cert(cert_pem).public_key()):
        raise IdentityError(
            f"private key {key_path} does not match the certificate next to it; "
            "re-provision the kit"
        )
