"""``medfed algorithm``: the algorithm registry from the command line (5.4.2.3a–b).

The algorithm party publishes a signed package of the code that will touch the hospitals'
records (identifier, version, compatibility notes, code hash); each hospital's data owner
approves that hash; ``verify`` checks, at a hospital, that the code installed there is exactly
the published and approved package — one changed byte and it is refused. The publisher's key
comes from its certificate, which must be issued by the study's CA for the ``algorithm`` role.
"""

from __future__ import annotations

import time
from pathlib import Path

from medfed.authz import AlgorithmPackage, AlgorithmRegistry, SqliteAuthzStore, sign_package
from medfed.authz.study_use import algorithm_code
from medfed.core.config import load_study
from medfed.crypto import get_suite
from medfed.errors import IdentityError
from medfed.pki import check_validity, identity_from_cert, load_kit, verify_issued_by
from medfed.pki.suite_identity import SM2_CA_FILE, identity_cert_name, signing_key, verify_key
from medfed.roles import Role

ALGORITHM_ID = "medfed-train"
VERSION = "0.1.0"
COMPATIBILITY = "medfed 0.1 models (cnn2d, cnn3d, GroupNorm twins, logreg) and local training loop"


def _registry(kit_dir: Path, store: Path, publisher_kit: Path) -> tuple[AlgorithmRegistry, str]:
    study = load_study(kit_dir / "study.toml")
    suite = study.security.suite.value
    publisher = load_kit(publisher_kit)
    tls_cert = publisher.cert_path.read_bytes()
    verify_issued_by(tls_cert, load_kit(kit_dir).ca_path.read_bytes())
    check_validity(tls_cert)
    if identity_from_cert(tls_cert).role is not Role.ALGORITHM:
        raise IdentityError(f"{publisher.name} is not certified as the study's algorithm party")
    ca = publisher_kit / SM2_CA_FILE
    key = verify_key(
        (publisher_kit / identity_cert_name(suite)).read_bytes(), suite,
        ca_pem=ca.read_bytes() if ca.is_file() else None, name=publisher.name,
    )
    registry = AlgorithmRegistry(SqliteAuthzStore(store), suite=get_suite(suite), publisher_keys={publisher.name: key})
    return registry, suite


def publish(publisher_kit: Path, store: Path) -> AlgorithmPackage:
    registry, suite = _registry(publisher_kit, store, publisher_kit)
    kit = load_kit(publisher_kit)
    package = sign_package(
        algorithm_code(),
        algorithm_id=ALGORITHM_ID,
        version=VERSION,
        compatibility=COMPATIBILITY,
        publisher=kit.name,
        signing_key=signing_key(publisher_kit, suite),
        suite=get_suite(suite),
        now=time.time(),
    )
    return registry.publish(package)


def approve(hospital_kit: Path, store: Path, publisher_kit: Path) -> str:
    registry, _ = _registry(hospital_kit, store, publisher_kit)
    kit = load_kit(hospital_kit)
    if kit.role is not Role.DATA:
        raise IdentityError("a hospital's data owner approves algorithms (a 'data' kit)")
    package = registry.get(ALGORITHM_ID, VERSION)
    registry.approve(kit.name, package.code_hash, approved_by=kit.name, now=time.time())
    return package.code_hash


def verify(hospital_kit: Path, store: Path, publisher_kit: Path, code: dict[str, bytes] | None = None) -> AlgorithmPackage:
    """The package, if this hospital's installed code is exactly it and the hospital approved it."""
    registry, _ = _registry(hospital_kit, store, publisher_kit)
    return registry.verify(
        code if code is not None else algorithm_code(),
        algorithm_id=ALGORITHM_ID, version=VERSION, hospital=load_kit(hospital_kit).name,
    )
