"""Fixtures for authentication tests: a suite, a throw-away CA, a refusal recorder."""

from __future__ import annotations

import pytest

from medfed.crypto import Suite, get_suite
from medfed.pki import CertificateAuthority

from .support import STUDY, Recorder


@pytest.fixture(scope="session")
def suite() -> Suite:
    return get_suite("intl")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    """A throw-away study CA: no key is ever committed."""
    return CertificateAuthority.create(STUDY)
