"""Grant records and their verification (5.5.1.2f–g), independently of any store."""

from __future__ import annotations

from dataclasses import replace

import pytest

from medfed.authz import (
    Application,
    ApplicationStatus,
    Grant,
    GrantError,
    GrantRefusal,
    GrantScope,
    PermissionDeniedError,
    Revocation,
    sign_grant,
    verify_grant,
)
from medfed.crypto import SigningKey
from medfed.errors import ConfigError

from .support import ALGORITHM_HASH, DAY, HOSPITAL, NOW, grant_request

USE = {"task": "task-1", "dataset": "chest-xray-2024", "algorithm_hash": ALGORITHM_HASH}


@pytest.fixture
def grant(owner_key: SigningKey) -> Grant:
    app = Application("app-1", grant_request(), ApplicationStatus.PENDING, created_at=NOW)
    scope = GrantScope.of(app, issued_at=NOW, expires_at=NOW + DAY)
    return sign_grant(scope, owner_key, grant_id="grant-1")


def _refusal(grant: Grant, key: SigningKey, **changes: object) -> GrantRefusal:
    use: dict[str, object] = {**USE, "now": NOW + 1, "revocation": None, **changes}
    with pytest.raises(GrantError) as refused:
        verify_grant(grant, key.verify_key(), **use)  # type: ignore[arg-type]
    assert isinstance(refused.value, PermissionDeniedError)
    return refused.value.reason


@pytest.mark.clause("5.5.1.2f", "5.5.1.2g")
def test_signed_grant_verifies_for_its_own_use(grant: Grant, owner_key: SigningKey) -> None:
    verify_grant(
        grant,
        owner_key.verify_key(),
        **USE,
        now=NOW + 1,
        revocation=None,
        hospital=HOSPITAL,
        dataset_fingerprint="f0" * 32,
        purpose="training",
    )


@pytest.mark.clause("5.5.1.2g")
@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"task": "task-2"}, GrantRefusal.WRONG_TASK),
        ({"dataset": "brain-mri"}, GrantRefusal.WRONG_DATASET),
        ({"algorithm_hash": "b2" * 32}, GrantRefusal.WRONG_ALGORITHM),
        ({"hospital": "hospital-b"}, GrantRefusal.WRONG_HOSPITAL),
        ({"dataset_fingerprint": "0f" * 32}, GrantRefusal.WRONG_FINGERPRINT),
        ({"purpose": "inference"}, GrantRefusal.WRONG_PURPOSE),
        ({"now": NOW + DAY}, GrantRefusal.EXPIRED),
        ({"now": NOW + 30 * DAY}, GrantRefusal.EXPIRED),
    ],
)
def test_grant_for_another_use_or_time_is_refused(
    grant: Grant, owner_key: SigningKey, changes: dict[str, object], reason: GrantRefusal
) -> None:
    assert _refusal(grant, owner_key, **changes) is reason


@pytest.mark.clause("5.5.1.2g")
def test_revoked_grant_is_refused_whatever_the_revocation_time(
    grant: Grant, owner_key: SigningKey
) -> None:
    later = Revocation("grant-1", "consent withdrawn", revoked_at=NOW + 100)
    assert _refusal(grant, owner_key, revocation=later) is GrantRefusal.REVOKED


def test_revocation_of_another_grant_is_a_caller_mistake(
    grant: Grant, owner_key: SigningKey
) -> None:
    with pytest.raises(ConfigError):
        _refusal(grant, owner_key, revocation=Revocation("grant-2", "x", revoked_at=NOW))


@pytest.mark.clause("5.5.1.2g")
def test_grant_signed_by_another_key_is_refused(
    grant: Grant, owner_key: SigningKey, other_owner_key: SigningKey
) -> None:
    forged = sign_grant(grant.scope, other_owner_key, grant_id="grant-1")
    assert _refusal(forged, owner_key) is GrantRefusal.WRONG_OWNER
    # Claiming the owner's key fingerprint does not help the forger.
    claimed = replace(forged, owner_key=grant.owner_key)
    assert _refusal(claimed, owner_key) is GrantRefusal.BAD_SIGNATURE


@pytest.mark.clause("5.5.1.2g")
@pytest.mark.parametrize(
    "tamper",
    [
        {"expires_at": NOW + 365 * DAY},
        {"task_id": "task-2"},
        {"algorithm_hash": "b2" * 32},
        {"dataset_id": "brain-mri"},
    ],
)
def test_widened_scope_breaks_the_signature(
    grant: Grant, owner_key: SigningKey, tamper: dict[str, object]
) -> None:
    widened = replace(grant, scope=replace(grant.scope, **tamper))  # type: ignore[arg-type]
    use = {**USE, "task": widened.scope.task_id, "dataset": widened.scope.dataset_id}
    use["algorithm_hash"] = widened.scope.algorithm_hash
    assert _refusal(widened, owner_key, **use) is GrantRefusal.BAD_SIGNATURE


@pytest.mark.clause("5.2e")
def test_grant_survives_the_wire_byte_for_byte(grant: Grant, owner_key: SigningKey) -> None:
    data = grant.to_bytes()
    again = Grant.from_bytes(data)
    assert again == grant and again.to_bytes() == data
    verify_grant(again, owner_key.verify_key(), **USE, now=NOW + 1, revocation=None)


@pytest.mark.parametrize("data", [b"not json", b"[]", b'{"grant_id": "g"}'])
def test_malformed_grant_bytes_are_a_config_error(data: bytes) -> None:
    with pytest.raises(ConfigError):
        Grant.from_bytes(data)


@pytest.mark.parametrize(
    "changes",
    [{"task_id": ""}, {"hospital": ""}, {"expires_at": float("nan")}, {"expires_at": "soon"}],
)
def test_request_with_empty_or_bad_fields_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        grant_request(**changes)


def test_application_round_trips_through_a_dict() -> None:
    app = Application("app-1", grant_request(), ApplicationStatus.PENDING, created_at=NOW)
    assert Application.from_dict(app.to_dict()) == app
    with pytest.raises(ConfigError):
        Application.from_dict({**app.to_dict(), "extra": 1})
