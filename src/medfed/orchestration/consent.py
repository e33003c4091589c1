"""The data owners' side of consent, as the command line and the demo drive it (5.5.1.2e–f).

``medfed grant list | approve | deny | revoke`` works on the dispatcher's grant store. A
data owner approves with its hospital's kit: the grant is signed there with the hospital's
own key, so nobody else can produce it. Revoking also records the revocation in the
hospital's own consent store, which its node checks independently.
"""

from __future__ import annotations

import time
from pathlib import Path

from medfed.authz import (
    Application,
    ApplicationStatus,
    Grant,
    GrantBook,
    Revocation,
    SqliteAuthzStore,
)
from medfed.authz.study_use import grant_request
from medfed.core.config import StudyConfig
from medfed.crypto import get_suite
from medfed.dispatcher.process import owner_keys
from medfed.errors import IdentityError
from medfed.pki import load_kit
from medfed.pki.kit import CONSENT_FILE
from medfed.pki.suite_identity import signing_key
from medfed.roles import Role


def open_book(study: StudyConfig, dispatcher_kit: Path, store: Path) -> GrantBook:
    return GrantBook(SqliteAuthzStore(store), owner_keys(study, dispatcher_kit))


def applications(store: Path) -> list[Application]:
    """Every application in the dispatcher's grant store, pending and decided."""
    return list(SqliteAuthzStore(store).list_applications())


def approve(book: GrantBook, application_id: str, owner_kit: Path, *, study: StudyConfig) -> Grant:
    """The data owner of ``owner_kit``'s hospital signs the application into a grant."""
    kit = load_kit(owner_kit)
    if kit.role is not Role.DATA:
        raise IdentityError(f"kit {owner_kit} belongs to a {kit.role.value} party; a hospital's data owner approves")
    key = signing_key(owner_kit, study.security.suite.value)
    return book.approve(application_id, key, now=time.time())


def deny(book: GrantBook, application_id: str, reason: str) -> Application:
    return book.deny(application_id, reason, now=time.time())


def revoke(book: GrantBook, grant_id: str, reason: str, *, owner_kit: Path | None) -> Revocation:
    """Revoke at the dispatcher and, with ``owner_kit``, in the hospital's own consent store."""
    revocation = book.revoke(grant_id, reason, now=time.time())
    if owner_kit is not None:
        SqliteAuthzStore(owner_kit / CONSENT_FILE).add_revocation(revocation)
    return revocation


def approve_all(study: StudyConfig, kits: Path, store: Path, *, requester: str = "initiator") -> list[Grant]:
    """Every hospital's data owner approves the study's application (the demo's consent step)."""
    dispatcher = study.by_role(Role.DISPATCHER)[0].name
    book = open_book(study, kits / dispatcher, store)
    suite = get_suite(study.security.suite.value)
    grants = []
    now = time.time()
    for hospital in study.hospitals:
        app = book.request(grant_request(study, hospital, requester, suite, now=now), now=now)
        if app.status is ApplicationStatus.PENDING:
            grants.append(approve(book, app.application_id, kits / hospital, study=study))
    return grants
