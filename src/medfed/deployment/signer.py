"""The result party's kit as a bundle signer: its suite's key and certificate, and the CA to trust."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from medfed.core.config import load_study
from medfed.crypto import SigningKey
from medfed.deployment.errors import SignerKitError
from medfed.errors import ConfigError, IdentityError
from medfed.pki import load_kit
from medfed.pki.identity import is_ca_certificate, load_cert
from medfed.pki.suite_identity import SM2_CA_FILE, identity_cert_name, signing_key
from medfed.roles import Role

KIT_STUDY_FILE = "study.toml"


@dataclass(frozen=True)
class BundleSigner:
    """Signs bundle descriptors as the study's result party."""

    name: str
    study_id: str
    suite: str
    key: SigningKey
    cert_pem: bytes
    ca_pem: bytes  # what a loader should pass as trusted_ca

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)


def load_signer(kit_dir: str | Path) -> BundleSigner:
    """The signer of the result party's kit ``kit_dir`` under its study's crypto suite.

    SignerKitError when the kit belongs to another role, its certificate may not sign (a CA
    certificate, or one without KeyUsage digitalSignature), or the kit is broken.
    """
    kit_dir = Path(kit_dir)
    try:
        kit = load_kit(kit_dir)
    except (IdentityError, ConfigError) as exc:
        raise SignerKitError(f"cannot sign with kit {kit_dir}: {exc}") from None
    if kit.role is not Role.RESULT:
        raise SignerKitError(
            f"kit {kit_dir} is {kit.name!r} acting as {kit.role.value!r}; bundles are signed "
            "with the result party's kit (role 'result')"
        )
    study_file = kit_dir / KIT_STUDY_FILE
    if not study_file.is_file():
        raise SignerKitError(f"kit {kit_dir} has no {KIT_STUDY_FILE}, so its crypto suite is unknown; re-provision it")
    suite = load_study(study_file).security.suite.value
    ca_file = kit_dir / (SM2_CA_FILE if suite == "gm" else kit.ca_path.name)
    cert_file = kit_dir / identity_cert_name(suite)
    for needed in (ca_file, cert_file):
        if not needed.is_file():
            raise SignerKitError(f"kit {kit_dir} lacks {needed.name} for the {suite} suite; re-provision it")
    cert_pem = cert_file.read_bytes()
    _check_may_sign(cert_pem, kit_dir / cert_file.name)
    return BundleSigner(
        name=kit.name,
        study_id=kit.study_id,
        suite=suite,
        key=signing_key(kit_dir, suite),
        cert_pem=cert_pem,
        ca_pem=ca_file.read_bytes(),
    )


def _check_may_sign(cert_pem: bytes, cert_file: Path) -> None:
    """SignerKitError unless the certificate is an end entity with KeyUsage digitalSignature.

    The edge runtime refuses any other signer, so a bundle signed with it would never load;
    refusing here fails the export instead of shipping that bundle.
    """
    try:
        cert = load_cert(cert_pem)
    except IdentityError as exc:
        raise SignerKitError(f"{cert_file} cannot sign bundles: {exc}") from None
    try:
        extensions = cert.extensions
    except (ValueError, x509.DuplicateExtension) as exc:
        raise SignerKitError(f"{cert_file} has malformed extensions ({exc}); re-provision the kit") from None
    if is_ca_certificate(cert):
        raise SignerKitError(f"{cert_file} is a CA certificate; bundles are signed with a party certificate")
    try:
        usage: x509.KeyUsage | None = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or not usage.digital_signature:
        lacking = "has no KeyUsage extension" if usage is None else "has KeyUsage without digitalSignature"
        raise SignerKitError(
            f"{cert_file} {lacking}, so edge runtimes refuse what it signs; re-provision the kit "
            "(the study CA issues party certificates with KeyUsage digitalSignature)"
        )
