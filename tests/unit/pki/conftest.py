"""Throw-away CAs and kits built on the fly: no key is ever committed."""

from __future__ import annotations

from pathlib import Path

import pytest

from medfed.pki import CertificateAuthority, StartupKit, write_kit
from medfed.roles import Role

STUDY = "study-1"


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create(STUDY)


@pytest.fixture
def hospital_kit(ca: CertificateAuthority, tmp_path: Path) -> StartupKit:
    """A valid kit for a data party."""
    return write_kit(
        tmp_path / "hospital-a",
        ca.issue("hospital-a", Role.DATA),
        ca_pem=ca.cert_pem,
        study_id=STUDY,
        dispatcher_host="127.0.0.1",
        dispatcher_port=8443,
    )
