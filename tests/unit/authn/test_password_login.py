"""Password login with argon2id and lockout (clauses 5.5.1.2b, 5.5.1.2c)."""

from __future__ import annotations

from pathlib import Path

import pytest

from medfed.authn import (
    AccountLockedError,
    Argon2Params,
    AuthenticationError,
    AuthStore,
    Credential,
    InMemoryAuthStore,
    LockoutPolicy,
    PasswordAuthenticator,
    Principal,
    SqliteAuthStore,
)
from medfed.errors import ConfigError
from medfed.roles import Role

from .support import NOW, STUDY, Recorder

PASSWORD = "correct horse battery staple"
FAST = Argon2Params.fast_insecure()


def authenticator(store: AuthStore, recorder: Recorder, **options: object) -> PasswordAuthenticator:
    auth = PasswordAuthenticator(
        store,
        study_id=STUDY,
        params=FAST,
        audit=recorder.audit,
        **options,
    )
    auth.enrol("alice", PASSWORD, Role.INITIATOR)
    return auth


@pytest.fixture
def auth(recorder: Recorder) -> PasswordAuthenticator:
    return authenticator(InMemoryAuthStore(), recorder)


@pytest.mark.clause("5.5.1.2b")
def test_right_password_logs_in_with_the_enrolled_role(
    auth: PasswordAuthenticator, recorder: Recorder
) -> None:
    principal = auth.authenticate("alice", PASSWORD, now=NOW)
    assert principal == Principal("alice", Role.INITIATOR, STUDY, Credential.PASSWORD)
    assert recorder.refusals == []


@pytest.mark.clause("5.5.1.2b")
def test_passwords_are_stored_as_argon2id_hashes() -> None:
    store = InMemoryAuthStore()
    authenticator(store, Recorder())
    user = store.get_user("alice")
    assert user is not None and user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


@pytest.mark.clause("5.5.1.2c")
def test_wrong_password_is_refused_and_logged(
    auth: PasswordAuthenticator, recorder: Recorder
) -> None:
    with pytest.raises(AuthenticationError, match="invalid user name or password"):
        auth.authenticate("alice", PASSWORD + "!", now=NOW)
    assert recorder.last == {
        "who": "alice",
        "what": "password",
        "reason": "wrong_password",
        "when": NOW,
    }


@pytest.mark.clause("5.5.1.2c")
def test_unknown_user_gets_the_same_refusal_as_a_wrong_password(
    auth: PasswordAuthenticator, recorder: Recorder
) -> None:
    with pytest.raises(AuthenticationError) as unknown:
        auth.authenticate("mallory", PASSWORD, now=NOW)
    with pytest.raises(AuthenticationError) as wrong:
        auth.authenticate("alice", "not the password", now=NOW)
    assert type(unknown.value) is type(wrong.value)
    assert str(unknown.value) == str(wrong.value)
    assert recorder.reasons == ["unknown_user", "wrong_password"]


@pytest.mark.clause("5.5.1.2c")
def test_account_locks_after_repeated_failures_even_for_the_right_password(
    recorder: Recorder,
) -> None:
    policy = LockoutPolicy(max_failures=5, lock_s=300.0)
    auth = authenticator(InMemoryAuthStore(), recorder, lockout=policy)
    for i in range(5):
        with pytest.raises(AuthenticationError):
            auth.authenticate("alice", f"guess number {i}", now=NOW + i)
    with pytest.raises(AccountLockedError) as locked:
        auth.authenticate("alice", PASSWORD, now=NOW + 10)
    assert locked.value.until == NOW + 4 + 300.0
    assert recorder.reasons == ["wrong_password"] * 5 + ["locked"]
    # After the cool-down the right password works again.
    assert auth.authenticate("alice", PASSWORD, now=NOW + 305).name == "alice"


@pytest.mark.clause("5.5.1.2c")
def test_unknown_names_lock_too_so_lockout_reveals_no_accounts(recorder: Recorder) -> None:
    auth = authenticator(InMemoryAuthStore(), recorder, lockout=LockoutPolicy(max_failures=2))
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            auth.authenticate("mallory", "whatever it is", now=NOW)
    with pytest.raises(AccountLockedError):
        auth.authenticate("mallory", "whatever it is", now=NOW + 1)


@pytest.mark.clause("5.5.1.2c")
def test_success_resets_the_failure_count(auth: PasswordAuthenticator) -> None:
    for _ in range(4):
        with pytest.raises(AuthenticationError):
            auth.authenticate("alice", "wrong password!", now=NOW)
    auth.authenticate("alice", PASSWORD, now=NOW)
    for _ in range(4):  # four more would lock only if the first four still counted
        with pytest.raises(AuthenticationError):
            auth.authenticate("alice", "wrong password!", now=NOW)
    assert auth.authenticate("alice", PASSWORD, now=NOW).name == "alice"


@pytest.mark.clause("5.5.1.2b", "5.5.1.2c")
def test_lockout_is_shared_through_a_sqlite_store(tmp_path: Path, recorder: Recorder) -> None:
    path = tmp_path / "authn.sqlite"
    first = authenticator(SqliteAuthStore(path), recorder, lockout=LockoutPolicy(max_failures=2))
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            first.authenticate("alice", "wrong password!", now=NOW)
    # A second service process on the same file sees the lock.
    second = PasswordAuthenticator(SqliteAuthStore(path), study_id=STUDY, params=FAST)
    with pytest.raises(AccountLockedError):
        second.authenticate("alice", PASSWORD, now=NOW + 1)


def test_weaker_hash_is_upgraded_at_the_next_login() -> None:
    store = InMemoryAuthStore()
    authenticator(store, Recorder())
    stronger = Argon2Params(time_cost=2, memory_kib=16, parallelism=1)
    PasswordAuthenticator(store, study_id=STUDY, params=stronger).authenticate(
        "alice", PASSWORD, now=NOW
    )
    user = store.get_user("alice")
    assert user is not None and "m=16,t=2,p=1" in user.password_hash


def test_short_passwords_and_bad_parameters_are_refused(auth: PasswordAuthenticator) -> None:
    with pytest.raises(ConfigError, match="12 to 1024"):
        auth.enrol("bob", "short", Role.RESULT)
    with pytest.raises(ConfigError, match="memory_kib"):
        Argon2Params(memory_kib=4, parallelism=1)
    with pytest.raises(ConfigError, match="max_failures"):
        LockoutPolicy(max_failures=0)
