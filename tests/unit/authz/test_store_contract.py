"""One contract for every AuthzStore backend (STYLE principle 6): memory and SQLite alike."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from medfed.authz import (
    AlgorithmApproval,
    AlgorithmPackage,
    Application,
    ApplicationStatus,
    AuthzStore,
    CodeKind,
    Grant,
    GrantScope,
    Revocation,
    SqliteAuthzStore,
    sign_grant,
)
from medfed.crypto import SigningKey
from medfed.errors import ConfigError

from .support import DAY, HOSPITAL, NOW, OTHER_HOSPITAL, grant_request

pytestmark = pytest.mark.clause("5.2e")


def _app(app_id: str, *, at: float = NOW, **changes: object) -> Application:
    return Application(app_id, grant_request(**changes), ApplicationStatus.PENDING, created_at=at)


def _approve(app: Application, key: SigningKey, grant_id: str) -> tuple[Application, Grant]:
    scope = GrantScope.of(app, issued_at=app.created_at + 1, expires_at=app.created_at + DAY)
    grant = sign_grant(scope, key, grant_id=grant_id)
    decided = replace(
        app, status=ApplicationStatus.APPROVED, decided_at=app.created_at + 1, grant_id=grant_id
    )
    return decided, grant


def _deny(app: Application) -> Application:
    return replace(app, status=ApplicationStatus.DENIED, decided_at=NOW + 1, reason="no consent")


def _pkg(algorithm_id: str, version: str, code_hash: str = "c0" * 32) -> AlgorithmPackage:
    return AlgorithmPackage(
        algorithm_id=algorithm_id,
        version=version,
        compatibility="torch>=2.1 — 中文说明 too",
        code_hash=code_hash,
        code_kind=CodeKind.FILES,
        suite="intl",
        publisher="algo-party",
        publisher_key="ab" * 32,
        published_at=NOW,
        signature=b"\x01\x02",
    )


# -- applications --------------------------------------------------------------------


def test_application_round_trips_and_ids_are_unique(store: AuthzStore) -> None:
    assert store.get_application("app-1") is None
    app = _app("app-1", purpose="training — 训练")
    store.add_application(app)
    assert store.get_application("app-1") == app
    with pytest.raises(ConfigError):
        store.add_application(replace(app, created_at=NOW + 5))
    assert store.get_application("app-1") == app


def test_applications_are_filtered_and_listed_oldest_first(store: AuthzStore) -> None:
    apps = [
        _app("app-c", at=NOW + 2),
        _app("app-b", at=NOW + 1, hospital=OTHER_HOSPITAL),
        _app("app-a", at=NOW + 2),
        _app("app-d", at=NOW, task_id="task-2"),
    ]
    for app in apps:
        store.add_application(app)
    ids = [a.application_id for a in store.list_applications()]
    assert ids == ["app-d", "app-b", "app-a", "app-c"]
    listed = store.list_applications(task_id="task-1", hospital=HOSPITAL)
    assert [a.application_id for a in listed] == ["app-a", "app-c"]
    assert store.list_applications(status=ApplicationStatus.DENIED) == []


def test_approval_records_decision_and_grant_together(
    store: AuthzStore, owner_key: SigningKey
) -> None:
    app = _app("app-1")
    store.add_application(app)
    decided, grant = _approve(app, owner_key, "grant-1")
    assert store.record_decision(decided, grant) is True
    assert store.get_application("app-1") == decided
    assert store.get_grant("grant-1") == grant
    assert store.list_applications(status=ApplicationStatus.APPROVED) == [decided]


def test_an_application_is_decided_once(store: AuthzStore, owner_key: SigningKey) -> None:
    app = _app("app-1")
    store.add_application(app)
    assert store.record_decision(_deny(app)) is True
    decided, grant = _approve(app, owner_key, "grant-1")
    assert store.record_decision(decided, grant) is False
    assert store.get_application("app-1") == _deny(app)
    assert store.get_grant("grant-1") is None
    assert store.record_decision(_deny(_app("app-absent"))) is False


def test_failed_grant_write_leaves_the_application_pending(
    store: AuthzStore, owner_key: SigningKey
) -> None:
    first, second = _app("app-1"), _app("app-2", at=NOW + 1)
    store.add_application(first)
    store.add_application(second)
    store.record_decision(*_approve(first, owner_key, "grant-1"))
    with pytest.raises(ConfigError):  # the same grant id again
        store.record_decision(*_approve(second, owner_key, "grant-1"))
    assert store.get_application("app-2") == second


@pytest.mark.parametrize(
    "case", ["pending", "approval without grant", "denial with grant", "foreign grant"]
)
def test_malformed_decisions_are_refused(
    store: AuthzStore, owner_key: SigningKey, case: str
) -> None:
    app = _app("app-1")
    store.add_application(app)
    decided, grant = _approve(app, owner_key, "grant-1")
    arguments: dict[str, tuple[Application, Grant | None]] = {
        "pending": (app, None),
        "approval without grant": (decided, None),
        "denial with grant": (_deny(app), grant),
        "foreign grant": (decided, _approve(_app("app-2"), owner_key, "grant-1")[1]),
    }
    with pytest.raises(ConfigError):
        store.record_decision(*arguments[case])
    assert store.get_application("app-1") == app


# -- grants and revocations ----------------------------------------------------------


def test_grants_are_filtered_and_listed_oldest_first(
    store: AuthzStore, owner_key: SigningKey
) -> None:
    apps = [
        _app("app-1", at=NOW + 5),
        _app("app-2", at=NOW),
        _app("app-3", hospital=OTHER_HOSPITAL),
    ]
    grants = {}
    for i, app in enumerate(apps):
        store.add_application(app)
        decided, grant = _approve(app, owner_key, f"grant-{i}")
        store.record_decision(decided, grant)
        grants[app.application_id] = grant
    assert store.list_grants(task_id="task-1", hospital=HOSPITAL) == [
        grants["app-2"],
        grants["app-1"],
    ]
    assert store.list_grants(hospital=OTHER_HOSPITAL) == [grants["app-3"]]
    assert store.list_grants(task_id="task-9") == []
    assert store.get_grant("grant-9") is None


def test_first_revocation_of_a_grant_is_kept(store: AuthzStore) -> None:
    assert store.get_revocation("grant-1") is None
    first = Revocation("grant-1", "consent withdrawn", revoked_at=NOW)
    assert store.add_revocation(first) is True
    assert store.add_revocation(Revocation("grant-1", "again", revoked_at=NOW + 1)) is False
    assert store.get_revocation("grant-1") == first


# -- packages and approvals ----------------------------------------------------------


def test_packages_are_immutable_once_recorded(store: AuthzStore) -> None:
    package = _pkg("cnn", "1.0")
    assert store.get_package("cnn", "1.0") is None
    assert store.add_package(package) is True
    assert store.add_package(package) is False
    with pytest.raises(ConfigError):
        store.add_package(_pkg("cnn", "1.0", code_hash="d0" * 32))
    assert store.get_package("cnn", "1.0") == package


def test_packages_are_filtered_and_ordered(store: AuthzStore) -> None:
    for package in (_pkg("unet", "1.0"), _pkg("cnn", "2.0", "d0" * 32), _pkg("cnn", "1.0")):
        store.add_package(package)
    assert [(p.algorithm_id, p.version) for p in store.list_packages()] == [
        ("cnn", "1.0"),
        ("cnn", "2.0"),
        ("unet", "1.0"),
    ]
    assert [p.version for p in store.list_packages(algorithm_id="cnn")] == ["1.0", "2.0"]
    assert store.list_packages(code_hash="d0" * 32) == [_pkg("cnn", "2.0", "d0" * 32)]


def test_approvals_are_replaced_removed_and_listed_by_hospital(store: AuthzStore) -> None:
    a1 = AlgorithmApproval(HOSPITAL, "c0" * 32, approved_by="owner-a", approved_at=NOW)
    a2 = AlgorithmApproval(HOSPITAL, "b0" * 32, approved_by="owner-a", approved_at=NOW)
    b1 = AlgorithmApproval(OTHER_HOSPITAL, "c0" * 32, approved_by="owner-b", approved_at=NOW)
    for approval in (a1, a2, b1):
        store.add_approval(approval)
    store.add_approval(replace(a1, approved_at=NOW + 9))
    assert store.list_approvals(hospital=HOSPITAL) == [a2, replace(a1, approved_at=NOW + 9)]
    store.remove_approval(HOSPITAL, "b0" * 32)
    store.remove_approval(HOSPITAL, "never-approved")
    assert store.list_approvals() == [replace(a1, approved_at=NOW + 9), b1]


# -- the SQLite file itself ----------------------------------------------------------


def test_sqlite_store_survives_a_restart(tmp_path: Path, owner_key: SigningKey) -> None:
    path = tmp_path / "authz.sqlite"
    store = SqliteAuthzStore(path)
    app = _app("app-1")
    store.add_application(app)
    decided, grant = _approve(app, owner_key, "grant-1")
    store.record_decision(decided, grant)
    store.add_revocation(Revocation("grant-1", "r", revoked_at=NOW))
    store.close()
    again = SqliteAuthzStore(path)
    assert again.get_grant("grant-1") == grant
    assert again.get_application("app-1") == decided
    assert again.get_revocation("grant-1") is not None
    again.close()


def test_sqlite_store_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "authz.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(ConfigError):
        SqliteAuthzStore(path)


def test_sqlite_values_travel_as_parameters_not_sql(tmp_path: Path) -> None:
    store = SqliteAuthzStore(tmp_path / "authz.sqlite")
    hostile = "x'; DROP TABLE applications; --"
    store.add_application(_app(hostile, task_id=hostile))
    assert store.list_applications(task_id=hostile)[0].application_id == hostile
    store.close()
