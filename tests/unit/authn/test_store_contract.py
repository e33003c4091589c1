"""One contract for every AuthStore backend (STYLE principle 6): memory and SQLite alike."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from medfed.authn import (
    AuthStore,
    InMemoryAuthStore,
    LockoutPolicy,
    LockState,
    SqliteAuthStore,
    UserRecord,
)
from medfed.errors import ConfigError
from medfed.roles import Role

from .support import NOW

POLICY = LockoutPolicy(max_failures=3, lock_s=60.0, reset_after_s=100.0)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuthStore]:
    """Each backend in turn: every test below runs against both."""
    backend: AuthStore
    if request.param == "memory":
        backend = InMemoryAuthStore()
    else:
        backend = SqliteAuthStore(tmp_path / "authn.sqlite")
    yield backend
    backend.close()


def test_user_round_trips_and_is_replaced(store: AuthStore) -> None:
    assert store.get_user("alice") is None
    store.put_user(UserRecord("alice", Role.INITIATOR, "$argon2id$one"))
    assert store.get_user("alice") == UserRecord("alice", Role.INITIATOR, "$argon2id$one")
    store.put_user(UserRecord("alice", Role.RESULT, "$argon2id$two"))
    assert store.get_user("alice") == UserRecord("alice", Role.RESULT, "$argon2id$two")


def test_deleting_a_user_forgets_it_and_absent_names_are_fine(store: AuthStore) -> None:
    store.put_user(UserRecord("alice", Role.INITIATOR, "h"))
    store.delete_user("alice")
    store.delete_user("nobody")
    assert store.get_user("alice") is None


def test_names_are_data_not_sql(store: AuthStore) -> None:
    name = "x'); DROP TABLE users; --"
    store.put_user(UserRecord(name, Role.INITIATOR, "h"))
    assert store.get_user(name) == UserRecord(name, Role.INITIATOR, "h")
    assert store.get_user("x") is None


def test_unknown_name_has_a_clear_lock_state(store: AuthStore) -> None:
    assert store.lock_state("nobody", now=NOW) == LockState()
    assert not store.lock_state("nobody", now=NOW).is_locked(NOW)


def test_failures_count_up_then_lock_for_the_cool_down(store: AuthStore) -> None:
    assert store.record_failure("bob", now=NOW, policy=POLICY).failures == 1
    assert store.record_failure("bob", now=NOW + 1, policy=POLICY).failures == 2
    locked = store.record_failure("bob", now=NOW + 2, policy=POLICY)
    assert locked.locked_until == NOW + 2 + POLICY.lock_s
    assert locked.failures == 0
    assert store.lock_state("bob", now=NOW + 3).is_locked(NOW + 3)
    opens = NOW + 2 + POLICY.lock_s
    assert not store.lock_state("bob", now=opens).is_locked(opens)


def test_failures_far_apart_do_not_add_up(store: AuthStore) -> None:
    store.record_failure("bob", now=NOW, policy=POLICY)
    store.record_failure("bob", now=NOW + 1, policy=POLICY)
    later = NOW + 1 + POLICY.reset_after_s
    assert store.lock_state("bob", now=later) == LockState()
    assert store.record_failure("bob", now=later, policy=POLICY).failures == 1


def test_clearing_failures_resets_the_counter(store: AuthStore) -> None:
    store.record_failure("bob", now=NOW, policy=POLICY)
    store.clear_failures("bob")
    assert store.lock_state("bob", now=NOW) == LockState()
    store.clear_failures("nobody")


def test_failures_are_per_name(store: AuthStore) -> None:
    store.record_failure("bob", now=NOW, policy=POLICY)
    assert store.lock_state("carol", now=NOW).failures == 0
    assert store.lock_state("bob", now=NOW).failures == 1


def test_revoked_token_ids_are_remembered_until_pruned_after_expiry(store: AuthStore) -> None:
    assert not store.is_token_revoked("t1")
    store.revoke_token("t1", expires_at=NOW + 10)
    store.revoke_token("t1", expires_at=NOW + 5)  # a second revocation never shortens it
    assert store.is_token_revoked("t1")
    assert not store.is_token_revoked("t2")
    store.prune(now=NOW + 9)
    assert store.is_token_revoked("t1")
    store.prune(now=NOW + 10)
    assert not store.is_token_revoked("t1")


def test_a_nonce_is_accepted_once_within_its_window(store: AuthStore) -> None:
    assert store.add_nonce(b"\x00n1", now=NOW, expires_at=NOW + 10)
    assert not store.add_nonce(b"\x00n1", now=NOW + 9, expires_at=NOW + 19)
    assert store.add_nonce(b"\x00n2", now=NOW, expires_at=NOW + 10)
    # After its window a nonce is forgotten, pruned or not.
    assert store.add_nonce(b"\x00n1", now=NOW + 10, expires_at=NOW + 20)


def test_prune_drops_expired_nonces_and_counters_only(store: AuthStore) -> None:
    store.add_nonce(b"old", now=NOW, expires_at=NOW + 1)
    store.add_nonce(b"new", now=NOW, expires_at=NOW + 100)
    store.record_failure("bob", now=NOW, policy=POLICY)
    store.put_user(UserRecord("alice", Role.INITIATOR, "h"))
    store.prune(now=NOW + 50)
    assert store.add_nonce(b"old", now=NOW + 50, expires_at=NOW + 60)
    assert not store.add_nonce(b"new", now=NOW + 50, expires_at=NOW + 60)
    store.prune(now=NOW + POLICY.reset_after_s)
    assert store.lock_state("bob", now=NOW) == LockState()  # row gone, whatever the clock
    assert store.get_user("alice") is not None  # users never expire


# SQLite only: what a file adds to the contract.


def test_sqlite_store_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "authn.sqlite"
    first = SqliteAuthStore(path)
    first.put_user(UserRecord("alice", Role.INITIATOR, "h"))
    first.revoke_token("t1", expires_at=NOW + 10)
    first.add_nonce(b"n", now=NOW, expires_at=NOW + 10)
    first.record_failure("bob", now=NOW, policy=POLICY)
    first.close()
    second = SqliteAuthStore(path)
    assert second.get_user("alice") == UserRecord("alice", Role.INITIATOR, "h")
    assert second.is_token_revoked("t1")
    assert not second.add_nonce(b"n", now=NOW + 1, expires_at=NOW + 11)
    assert second.lock_state("bob", now=NOW).failures == 1
    second.close()


def test_sqlite_store_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "authn.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(ConfigError, match="schema version 99"):
        SqliteAuthStore(path)
