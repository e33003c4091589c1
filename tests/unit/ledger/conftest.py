"""Fixtures for ledger tests: both suites, throw-away keys, and each store backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medfed.crypto import Suite, get_suite
from medfed.ledger import InMemoryLedgerStore, LedgerStore, SqliteLedgerStore

from .support import MemoryTamper, SqlTamper, Tamper, World, make_world

_WORLDS: dict[str, World] = {}


def world_for(name: str) -> World:
    """One set of keys per suite for the whole session (key generation is the slow part)."""
    if name not in _WORLDS:
        _WORLDS[name] = make_world(get_suite(name))
    return _WORLDS[name]


@pytest.fixture(scope="session")
def intl() -> Suite:
    return get_suite("intl")


@pytest.fixture(params=["intl", "gm"])
def any_world(request: pytest.FixtureRequest) -> World:
    """Each suite in turn, with fresh logs and receipts over the session's keys."""
    base = world_for(request.param)
    return World(base.suite, base.signing, base.notary_signing)


@pytest.fixture
def world() -> World:
    base = world_for("intl")
    return World(base.suite, base.signing, base.notary_signing)


def _open(kind: str, tmp_path: Path) -> LedgerStore:
    if kind == "memory":
        return InMemoryLedgerStore()
    return SqliteLedgerStore(tmp_path / "ledger.sqlite")


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[LedgerStore]:
    """Each backend in turn: every test that takes ``store`` runs against both."""
    opened = _open(backend, tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def tamper(store: LedgerStore) -> Iterator[Tamper]:
    """Direct access to ``store``'s rows (raw SQL for SQLite)."""
    if isinstance(store, SqliteLedgerStore):
        sql = SqlTamper(store)
        yield sql
        sql.close()
    else:
        assert isinstance(store, InMemoryLedgerStore)
        yield MemoryTamper(store)
