"""The data-use workflow (5.5.1.2e–g, 5.2e): request → application → decision → grant → check."""

from __future__ import annotations

from dataclasses import replace

import pytest

from medfed.authz import (
    ApplicationStatus,
    AuthzStore,
    Grant,
    GrantBook,
    GrantError,
    GrantRefusal,
    GrantScope,
    sign_grant,
    verify_grant,
)
from medfed.crypto import SigningKey
from medfed.errors import ConfigError

from .support import ALGORITHM_HASH, DAY, HOSPITAL, NOW, OTHER_HOSPITAL, grant_request


@pytest.fixture
def book(store: AuthzStore, owner_key: SigningKey, other_owner_key: SigningKey) -> GrantBook:
    return GrantBook(
        store,
        {HOSPITAL: owner_key.verify_key(), OTHER_HOSPITAL: other_owner_key.verify_key()},
    )


def _check(book: GrantBook, *, now: float = NOW + 10, **use: str) -> Grant:
    args = {"task": "task-1", "hospital": HOSPITAL, "dataset": "chest-xray-2024"}
    return book.check(**{**args, "algorithm_hash": ALGORITHM_HASH, **use}, now=now)


def _refusal(book: GrantBook, **kwargs: object) -> GrantRefusal:
    with pytest.raises(GrantError) as refused:
        _check(book, **kwargs)  # type: ignore[arg-type]
    return refused.value.reason


def _approved(book: GrantBook, owner_key: SigningKey) -> Grant:
    app = book.request(grant_request(), now=NOW)
    return book.approve(app.application_id, owner_key, now=NOW + 1)


@pytest.mark.clause("5.5.1.2e")
def test_unauthorised_request_becomes_a_pending_application_not_a_run(book: GrantBook) -> None:
    assert _refusal(book) is GrantRefusal.NO_GRANT
    app = book.request(grant_request(), now=NOW)
    assert app.status is ApplicationStatus.PENDING and app.grant_id is None
    assert _refusal(book) is GrantRefusal.PENDING
    # Asking again while it is pending does not pile up applications.
    assert book.request(grant_request(), now=NOW + 5) == app


@pytest.mark.clause("5.5.1.2f", "5.5.1.2g")
def test_grant_exists_only_after_the_owner_approves(
    book: GrantBook, store: AuthzStore, owner_key: SigningKey
) -> None:
    app = book.request(grant_request(), now=NOW)
    assert store.list_grants() == []
    grant = book.approve(app.application_id, owner_key, now=NOW + 1)
    assert _check(book) == grant
    verify_grant(
        grant,
        owner_key.verify_key(),
        task="task-1",
        dataset="chest-xray-2024",
        algorithm_hash=ALGORITHM_HASH,
        now=NOW + 10,
        revocation=None,
    )
    decided = store.get_application(app.application_id)
    assert decided is not None and decided.status is ApplicationStatus.APPROVED
    assert decided.grant_id == grant.grant_id
    # A covered request is answered by the approved application, not a new one.
    assert book.request(grant_request(), now=NOW + 2).grant_id == grant.grant_id


@pytest.mark.clause("5.5.1.2f")
def test_denied_application_never_yields_a_grant(
    book: GrantBook, store: AuthzStore, owner_key: SigningKey
) -> None:
    app = book.request(grant_request(), now=NOW)
    book.deny(app.application_id, "purpose not covered by consent", now=NOW + 1)
    assert _refusal(book) is GrantRefusal.DENIED
    with pytest.raises(GrantError) as refused:
        book.approve(app.application_id, owner_key, now=NOW + 2)
    assert refused.value.reason is GrantRefusal.ALREADY_DECIDED
    assert store.list_grants() == []


@pytest.mark.clause("5.5.1.2f")
def test_only_the_hospitals_own_data_owner_can_approve(
    book: GrantBook, store: AuthzStore, other_owner_key: SigningKey
) -> None:
    app = book.request(grant_request(), now=NOW)
    with pytest.raises(GrantError) as refused:
        book.approve(app.application_id, other_owner_key, now=NOW + 1)
    assert refused.value.reason is GrantRefusal.WRONG_OWNER
    assert store.list_grants() == []
    assert book.request(grant_request(), now=NOW + 2).status is ApplicationStatus.PENDING


@pytest.mark.clause("5.5.1.2f")
def test_grant_signed_at_the_hospital_is_recorded_and_checked(
    book: GrantBook, owner_key: SigningKey
) -> None:
    app = book.request(grant_request(), now=NOW)
    scope = GrantScope.of(app, issued_at=NOW + 1, expires_at=NOW + DAY)
    grant = book.record_grant(sign_grant(scope, owner_key, grant_id="grant-x"), now=NOW + 1)
    assert _check(book) == grant
    with pytest.raises(GrantError):  # decided already: a second grant is refused
        book.record_grant(sign_grant(scope, owner_key, grant_id="grant-y"), now=NOW + 1)


def test_grant_wider_than_the_application_is_not_recorded(
    book: GrantBook, owner_key: SigningKey
) -> None:
    app = book.request(grant_request(), now=NOW)
    for wider in (
        GrantScope.of(app, issued_at=NOW, expires_at=NOW + 30 * DAY),
        replace(GrantScope.of(app, issued_at=NOW, expires_at=NOW + DAY), task_id="task-2"),
    ):
        with pytest.raises(ConfigError):
            book.record_grant(sign_grant(wider, owner_key, grant_id="grant-w"), now=NOW)


@pytest.mark.clause("5.5.1.2g")
def test_revoked_grant_stops_the_next_check(book: GrantBook, owner_key: SigningKey) -> None:
    grant = _approved(book, owner_key)
    assert _check(book, now=NOW + 10) == grant  # round 1
    revocation = book.revoke(grant.grant_id, "patient consent withdrawn", now=NOW + 20)
    assert _refusal(book, now=NOW + 30) is GrantRefusal.REVOKED  # round 2
    assert book.revoke(grant.grant_id, "again", now=NOW + 40) == revocation
    # A new request after revocation is a new application for the owner to decide.
    assert book.request(grant_request(), now=NOW + 50).status is ApplicationStatus.PENDING


@pytest.mark.clause("5.5.1.2g")
def test_expired_grant_is_refused_and_owner_may_shorten_expiry(
    book: GrantBook, owner_key: SigningKey
) -> None:
    app = book.request(grant_request(), now=NOW)
    grant = book.approve(app.application_id, owner_key, now=NOW + 1, expires_at=NOW + 100)
    assert grant.scope.expires_at == NOW + 100
    assert _check(book, now=NOW + 99) == grant
    assert _refusal(book, now=NOW + 100) is GrantRefusal.EXPIRED


def test_owner_may_not_extend_the_requested_expiry(book: GrantBook, owner_key: SigningKey) -> None:
    app = book.request(grant_request(), now=NOW)
    with pytest.raises(ConfigError):
        book.approve(app.application_id, owner_key, now=NOW + 1, expires_at=NOW + 365 * DAY)


@pytest.mark.clause("5.5.1.2g")
@pytest.mark.parametrize(
    ("use", "reason"),
    [
        ({"dataset": "brain-mri"}, GrantRefusal.WRONG_DATASET),
        ({"algorithm_hash": "b2" * 32}, GrantRefusal.WRONG_ALGORITHM),
        ({"task": "task-2"}, GrantRefusal.NO_GRANT),
        ({"hospital": OTHER_HOSPITAL}, GrantRefusal.NO_GRANT),
    ],
)
def test_grant_for_another_task_dataset_or_algorithm_is_refused(
    book: GrantBook, owner_key: SigningKey, use: dict[str, str], reason: GrantRefusal
) -> None:
    _approved(book, owner_key)
    assert _refusal(book, **use) is reason


def test_new_algorithm_version_awaiting_approval_is_reported_as_pending(
    book: GrantBook, owner_key: SigningKey
) -> None:
    _approved(book, owner_key)
    book.request(grant_request(algorithm_hash="b2" * 32), now=NOW + 5)
    assert _refusal(book, algorithm_hash="b2" * 32) is GrantRefusal.PENDING


@pytest.mark.clause("5.5.1.2g")
def test_forged_grant_in_the_store_is_refused(
    book: GrantBook, store: AuthzStore, other_owner_key: SigningKey
) -> None:
    app = book.request(grant_request(), now=NOW)
    scope = GrantScope.of(app, issued_at=NOW, expires_at=NOW + DAY)
    forged = sign_grant(scope, other_owner_key, grant_id="grant-f")
    # Written past the book, as an attacker with access to the database would.
    decided = replace(app, status=ApplicationStatus.APPROVED, grant_id="grant-f")
    assert store.record_decision(decided, forged)
    assert _refusal(book) is GrantRefusal.WRONG_OWNER


@pytest.mark.clause("5.2e")
def test_every_decision_and_grant_is_recorded(
    book: GrantBook, store: AuthzStore, owner_key: SigningKey
) -> None:
    first = book.request(grant_request(), now=NOW)
    second = book.request(grant_request(hospital=OTHER_HOSPITAL), now=NOW + 1)
    grant = book.approve(first.application_id, owner_key, now=NOW + 2)
    book.deny(second.application_id, "no consent for this study", now=NOW + 3)
    recorded = store.list_applications(task_id="task-1")
    assert [(a.request.hospital, a.status) for a in recorded] == [
        (HOSPITAL, ApplicationStatus.APPROVED),
        (OTHER_HOSPITAL, ApplicationStatus.DENIED),
    ]
    assert recorded[1].reason == "no consent for this study" and recorded[1].decided_at == NOW + 3
    assert store.list_grants(task_id="task-1") == [grant]


def test_request_for_an_unknown_hospital_or_past_expiry_is_a_config_error(
    book: GrantBook,
) -> None:
    with pytest.raises(ConfigError):
        book.request(grant_request(hospital="hospital-z"), now=NOW)
    with pytest.raises(ConfigError):
        book.request(grant_request(expires_at=NOW), now=NOW)


def test_unknown_application_or_grant_is_refused(book: GrantBook, owner_key: SigningKey) -> None:
    with pytest.raises(GrantError) as refused:
        book.approve("app-none", owner_key, now=NOW)
    assert refused.value.reason is GrantRefusal.UNKNOWN_APPLICATION
    with pytest.raises(GrantError) as refused:
        book.revoke("grant-none", "x", now=NOW)
    assert refused.value.reason is GrantRefusal.UNKNOWN_GRANT
