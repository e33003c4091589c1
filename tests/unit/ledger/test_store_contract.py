"""One contract for every LedgerStore backend (STYLE principle 6): memory and SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from medfed.errors import ConfigError
from medfed.ledger import (
    EntryKind,
    EntryRequest,
    InMemoryLedgerStore,
    LedgerConflictError,
    LedgerCorruptError,
    LedgerEntry,
    LedgerStore,
    SqliteLedgerStore,
    Unreadable,
    open_store,
)
from medfed.ledger.store import LedgerStore as _Base

from .support import TASK, Tamper, World

pytestmark = pytest.mark.clause("5.4.2.3i")

ZERO = "00" * 32


def _chain(world: World, n: int) -> list[LedgerEntry]:
    entries: list[LedgerEntry] = []
    prev = ZERO
    for i in range(n):
        request = EntryRequest(
            TASK, EntryKind.ANOMALY, "dispatcher", float(i), {"description": f"e{i}"}
        )
        entry = LedgerEntry.chain(request, b"sig", sequence=i, prev_hash=prev, suite=world.suite)
        entries.append(entry)
        prev = entry.entry_hash
    return entries


def test_a_new_store_is_empty(store: LedgerStore) -> None:
    assert len(store) == 0
    assert store.head() is None
    assert store.get(0) is None
    assert list(store) == []


def test_appended_entries_come_back_equal_and_in_order(store: LedgerStore, world: World) -> None:
    entries = _chain(world, 4)
    for e in entries:
        store.append(e)
    assert len(store) == 4
    assert store.head() == entries[-1]
    assert store.get(2) == entries[2]
    assert store.get(9) is None
    assert list(store) == entries
    assert list(store.scan()) == entries


def test_first_entry_must_start_the_chain(store: LedgerStore, world: World) -> None:
    second = _chain(world, 2)[1]
    with pytest.raises(LedgerConflictError):
        store.append(second)
    assert len(store) == 0


@pytest.mark.parametrize("change", ["gap", "taken", "wrong_prev"])
def test_append_that_does_not_continue_the_head_is_refused_and_leaves_nothing(
    store: LedgerStore, world: World, change: str
) -> None:
    entries = _chain(world, 3)
    store.append(entries[0])
    store.append(entries[1])
    bad = {
        "gap": LedgerEntry.from_dict({**entries[2].to_dict(), "sequence": 5}),
        "taken": entries[1],
        "wrong_prev": LedgerEntry.from_dict({**entries[2].to_dict(), "prev_hash": "ab" * 32}),
    }[change]
    with pytest.raises(LedgerConflictError):
        store.append(bad)
    assert list(store) == entries[:2]
    store.append(entries[2])  # the store still works after a refusal
    assert len(store) == 3


def test_store_has_no_way_to_rewrite_history() -> None:
    public = {name for name in dir(_Base) if not name.startswith("_")}
    assert public == {"append", "get", "head", "scan", "close"}


def test_undecodable_row_is_scanned_as_unreadable_and_located(
    store: LedgerStore, world: World, tamper: Tamper
) -> None:
    for e in _chain(world, 3):
        store.append(e)
    tamper.set(1, "payload", '{"description": "e1"')  # truncated JSON
    scanned = list(store.scan())
    assert isinstance(scanned[1], Unreadable) and scanned[1].sequence == 1
    assert isinstance(scanned[0], LedgerEntry) and isinstance(scanned[2], LedgerEntry)
    with pytest.raises(LedgerCorruptError) as caught:
        list(store)
    assert caught.value.sequence == 1
    with pytest.raises(LedgerCorruptError):
        store.get(1)


def test_sqlite_store_survives_reopening(tmp_path: Path, world: World) -> None:
    entries = _chain(world, 3)
    with SqliteLedgerStore(tmp_path / "l.sqlite") as first:
        for e in entries:
            first.append(e)
    with SqliteLedgerStore(tmp_path / "l.sqlite") as again:
        assert list(again) == entries
        assert again.head() == entries[-1]


def test_sqlite_store_uses_wal_and_refuses_update_and_delete(tmp_path: Path, world: World) -> None:
    path = tmp_path / "l.sqlite"
    with SqliteLedgerStore(path) as store:
        store.append(_chain(world, 1)[0])
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for statement in ("UPDATE ledger SET party = 'x'", "DELETE FROM ledger"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(statement)
    db.close()


def test_sqlite_crash_mid_append_leaves_nothing(tmp_path: Path, world: World) -> None:
    """A writer that dies inside its transaction (connection gone, no COMMIT) left no row."""
    path = tmp_path / "l.sqlite"
    entries = _chain(world, 2)
    with SqliteLedgerStore(path) as store:
        store.append(entries[0])
    crashing = sqlite3.connect(path, isolation_level=None)
    crashing.execute("BEGIN IMMEDIATE")
    crashing.execute(
        "INSERT INTO ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (1, TASK, "anomaly", "x", 0.0, "{}", "00", "00", ""),
    )
    crashing.close()  # dies before COMMIT
    with SqliteLedgerStore(path) as store:
        assert len(store) == 1
        store.append(entries[1])
        assert list(store) == entries


def test_sqlite_refuses_a_file_of_another_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(ConfigError, match="schema version 99"):
        SqliteLedgerStore(path)


def test_sqlite_scan_streams_past_one_batch(tmp_path: Path, world: World) -> None:
    import medfed.ledger.sqlite as backend

    entries = _chain(world, 7)
    with SqliteLedgerStore(tmp_path / "l.sqlite") as store:
        for e in entries:
            store.append(e)
        original = backend._BATCH
        backend._BATCH = 3
        try:
            assert list(store.scan()) == entries
        finally:
            backend._BATCH = original


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("memory:", InMemoryLedgerStore),
        ("sqlite:///{tmp}/a.sqlite", SqliteLedgerStore),
        ("sqlite:///:memory:", SqliteLedgerStore),
        ("{tmp}/b.sqlite", SqliteLedgerStore),
    ],
)
def test_open_store_accepts_memory_sqlite_urls_and_paths(
    url: str, backend: type, tmp_path: Path
) -> None:
    with open_store(url.format(tmp=tmp_path)) as store:
        assert isinstance(store, backend)
    with open_store(tmp_path / "c.sqlite") as store:
        assert isinstance(store, SqliteLedgerStore)


def test_open_store_postgres_without_psycopg_says_what_to_install() -> None:
    import importlib.util

    if importlib.util.find_spec("psycopg") is not None:
        pytest.skip("psycopg is installed here")
    with pytest.raises(ConfigError, match="psycopg"):
        open_store("postgresql://notary@db/ledger")


@pytest.mark.parametrize("url", ["", "mysql://x/y", "sqlite:///"])
def test_open_store_refuses_what_it_cannot_open(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(url)
