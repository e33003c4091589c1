"""Identities for a study: its CA, party certificates and startup kits (clause 5.4.2.3a)."""

from __future__ import annotations

from medfed.pki.authority import CertificateAuthority, IssuedIdentity
from medfed.pki.identity import (
    PeerIdentity,
    check_validity,
    identity_from_cert,
    verify_issued_by,
)
from medfed.pki.kit import StartupKit, load_kit, write_kit

__all__ = [
    "CertificateAuthority",
    "IssuedIdentity",
    "PeerIdentity",
    "StartupKit",
    "check_validity",
    "identity_from_cert",
    "load_kit",
    "verify_issued_by",
    "write_kit",
]
