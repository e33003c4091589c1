"""Which key a party signs with, and which key verifies a peer, under the study's crypto suite.

``intl``: the TLS identity itself (the kit's ECDSA P-256 ``key.pem`` / ``cert.pem``).
``gm``: an SM2 identity beside it (``sm2.key`` / ``sm2.pem``, certified by the study's SM2 CA
``sm2-ca.pem``). TLS still runs on the intl certificate (Python's ssl has no SM2 suites); the
SM2 certificate must name the same party as the TLS one, so the two identities are bound.
"""

from __future__ import annotations

from pathlib import Path

from medfed.crypto import SigningKey, Suite, VerifyKey, get_suite
from medfed.errors import IdentityError
from medfed.pki.gm_certs import verify_gm_certificate
from medfed.pki.identity import public_key_pem

SM2_KEY_FILE = "sm2.key"
SM2_CERT_FILE = "sm2.pem"
SM2_CA_FILE = "sm2-ca.pem"


def identity_cert_name(suite: str) -> str:
    """The certificate file holding a party's identity key in ``suite``."""
    return SM2_CERT_FILE if suite == "gm" else "cert.pem"


def signing_key(kit_dir: Path, suite: str) -> SigningKey:
    """This party's identity signing key under ``suite``."""
    name = SM2_KEY_FILE if suite == "gm" else "key.pem"
    path = kit_dir / name
    if not path.is_file():
        raise IdentityError(f"kit {kit_dir} has no {name} for the {suite} suite; re-provision the study")
    return get_suite(suite).load_signing_key(path.read_bytes())


def verify_key(cert_pem: bytes, suite: str, *, ca_pem: bytes | None = None, name: str | None = None) -> VerifyKey:
    """The key that verifies a party's signatures: from its intl certificate, or from its SM2
    certificate after checking it against the study's SM2 CA (and that it names ``name``)."""
    if suite != "gm":
        return get_suite(suite).load_verify_key(public_key_pem(cert_pem))
    if ca_pem is None:
        raise IdentityError("an SM2 certificate is checked against the study's SM2 CA, which is missing")
    verified = verify_gm_certificate(cert_pem, ca_pem)
    if name is not None and verified.identity.name != name:
        raise IdentityError(f"the SM2 certificate names {verified.identity.name!r}, not {name!r}")
    return verified.public_key


def kit_suite(kit_dir: Path, suite: str) -> tuple[Suite, SigningKey]:
    return get_suite(suite), signing_key(kit_dir, suite)
