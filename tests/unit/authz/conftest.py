"""Fixtures for authorization tests: the intl suite and throw-away keys made on the fly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medfed.authz import AuthzStore, InMemoryAuthzStore, SqliteAuthzStore
from medfed.crypto import SigningKey, Suite, get_suite


@pytest.fixture(scope="session")
def suite() -> Suite:
    return get_suite("intl")


@pytest.fixture(scope="session")
def owner_key(suite: Suite) -> SigningKey:
    """hospital-a's data owner."""
    return suite.generate_signing_key()


@pytest.fixture(scope="session")
def other_owner_key(suite: Suite) -> SigningKey:
    """hospital-b's data owner (and, in forgery tests, the wrong key)."""
    return suite.generate_signing_key()


@pytest.fixture(scope="session")
def publisher_key(suite: Suite) -> SigningKey:
    """The algorithm party's key."""
    return suite.generate_signing_key()


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuthzStore]:
    """Each backend in turn: every test that takes ``store`` runs against both."""
    backend: AuthzStore
    if request.param == "memory":
        backend = InMemoryAuthzStore()
    else:
        backend = SqliteAuthzStore(tmp_path / "authz.sqlite")
    yield backend
    backend.close()
