"""The data-use workflow (5.5.1.2e–g): request → application → owner's decision → grant.

:class:`GrantBook` is pure: the caller supplies ``now``, and every record lives in the
:class:`AuthzStore`. The dispatcher calls :meth:`GrantBook.check` before every task request
and every round; a hospital node checks independently with :func:`verify_grant`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from medfed.authz.errors import GrantError, GrantRefusal
from medfed.authz.grants import (
    Application,
    ApplicationStatus,
    Grant,
    GrantRequest,
    GrantScope,
    Revocation,
    sign_grant,
    verify_grant,
)
from medfed.authz.store import AuthzStore
from medfed.crypto import SigningKey, VerifyKey
from medfed.errors import ConfigError

# When several grants fail, report the refusal that tells the requester most.
_PRIORITY = (
    GrantRefusal.REVOKED,
    GrantRefusal.EXPIRED,
    GrantRefusal.WRONG_OWNER,
    GrantRefusal.BAD_SIGNATURE,
    GrantRefusal.WRONG_FINGERPRINT,
    GrantRefusal.WRONG_PURPOSE,
    GrantRefusal.WRONG_ALGORITHM,
    GrantRefusal.WRONG_DATASET,
)


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


class GrantBook:
    """Applications and grants for the hospitals whose data owners' keys it knows.

    ``owner_keys`` maps each hospital to its data owner's verify key, taken from the
    owner's certificate; a grant signed by any other key is refused.
    """

    def __init__(self, store: AuthzStore, owner_keys: Mapping[str, VerifyKey]) -> None:
        self._store = store
        self._owner_keys = MappingProxyType(dict(owner_keys))

    def _owner_key(self, hospital: str) -> VerifyKey:
        try:
            return self._owner_keys[hospital]
        except KeyError:
            raise ConfigError(f"no data owner key is known for hospital {hospital!r}") from None

    def request(self, request: GrantRequest, *, now: float) -> Application:
        """The application for ``request`` (5.5.1.2e): APPROVED if a valid grant covers it
        already (its ``grant_id`` names the grant), else the PENDING one, new or existing."""
        self._owner_key(request.hospital)  # an application nobody can decide is a mistake
        if request.expires_at <= now:
            raise ConfigError(f"requested expiry {request.expires_at} is not after now ({now})")
        for grant in self._store.list_grants(task_id=request.task_id, hospital=request.hospital):
            if self._covers(grant, request, now=now):
                app = self._store.get_application(grant.scope.application_id)
                if app is not None:
                    return app
        for app in self._store.list_applications(
            task_id=request.task_id, hospital=request.hospital, status=ApplicationStatus.PENDING
        ):
            if app.request == request:
                return app
        app = Application(_new_id("app"), request, ApplicationStatus.PENDING, created_at=now)
        self._store.add_application(app)
        return app

    def _covers(self, grant: Grant, request: GrantRequest, *, now: float) -> bool:
        try:
            self._verify(
                grant,
                task=request.task_id,
                dataset=request.dataset_id,
                algorithm_hash=request.algorithm_hash,
                now=now,
                dataset_fingerprint=request.dataset_fingerprint,
                purpose=request.purpose,
            )
        except GrantError:
            return False
        return True

    def approve(
        self,
        application_id: str,
        owner_key: SigningKey,
        *,
        now: float,
        expires_at: float | None = None,
    ) -> Grant:
        """The data owner approves: sign and record the grant (5.5.1.2f).

        ``expires_at`` may shorten the requested expiry, never extend it.
        """
        app = self._pending(application_id)
        requested = app.request.expires_at
        if expires_at is not None and expires_at > requested:
            raise ConfigError(f"expiry {expires_at} is later than the requested {requested}")
        if now >= requested:
            raise GrantError(
                GrantRefusal.EXPIRED, f"{application_id} asked for use until {requested}"
            )
        until = requested if expires_at is None else expires_at
        scope = GrantScope.of(app, issued_at=now, expires_at=until)
        # A key of another hospital signs happily; record_grant refuses it as WRONG_OWNER.
        grant = sign_grant(scope, owner_key, grant_id=_new_id("grant"))
        return self.record_grant(grant, now=now)

    def record_grant(self, grant: Grant, *, now: float) -> Grant:
        """Record a grant the data owner signed elsewhere (its key never leaves the hospital).

        The grant must answer a PENDING application exactly and carry the owner's signature.
        """
        app = self._pending(grant.scope.application_id)
        expected = GrantScope.of(
            app, issued_at=grant.scope.issued_at, expires_at=grant.scope.expires_at
        )
        if grant.scope != expected or grant.scope.expires_at > app.request.expires_at:
            raise ConfigError(f"grant {grant.grant_id} does not match {app.application_id}")
        self._verify(
            grant,
            task=app.request.task_id,
            dataset=app.request.dataset_id,
            algorithm_hash=app.request.algorithm_hash,
            now=now,
        )
        decided = replace(
            app, status=ApplicationStatus.APPROVED, decided_at=now, grant_id=grant.grant_id
        )
        if not self._store.record_decision(decided, grant):
            raise GrantError(
                GrantRefusal.ALREADY_DECIDED, f"{app.application_id} was decided meanwhile"
            )
        return grant

    def deny(self, application_id: str, reason: str, *, now: float) -> Application:
        """The data owner denies: no grant will exist for this application."""
        decided = replace(
            self._pending(application_id),
            status=ApplicationStatus.DENIED,
            decided_at=now,
            reason=reason,
        )
        if not self._store.record_decision(decided):
            raise GrantError(
                GrantRefusal.ALREADY_DECIDED, f"{application_id} was decided meanwhile"
            )
        return decided

    def revoke(self, grant_id: str, reason: str, *, now: float) -> Revocation:
        """Withdraw a grant: every later check refuses it. Revoking twice keeps the first."""
        if self._store.get_grant(grant_id) is None:
            raise GrantError(GrantRefusal.UNKNOWN_GRANT, f"no grant {grant_id}")
        revocation = Revocation(grant_id, reason, revoked_at=now)
        if self._store.add_revocation(revocation):
            return revocation
        return self._store.get_revocation(grant_id) or revocation

    def check(
        self,
        *,
        task: str,
        hospital: str,
        dataset: str,
        algorithm_hash: str,
        now: float,
        dataset_fingerprint: str | None = None,
        purpose: str | None = None,
    ) -> Grant:
        """The valid grant covering this use (5.5.1.2g); GrantError with the reason otherwise.

        Call it before every task request and every round: a revoked or expired grant stops
        the next round.
        """
        refusals: list[GrantError] = []
        for grant in self._store.list_grants(task_id=task, hospital=hospital):
            try:
                self._verify(
                    grant,
                    task=task,
                    dataset=dataset,
                    algorithm_hash=algorithm_hash,
                    now=now,
                    dataset_fingerprint=dataset_fingerprint,
                    purpose=purpose,
                )
            except GrantError as refusal:
                refusals.append(refusal)
            else:
                return grant
        raise self._why_refused(
            task, hospital, dataset=dataset, algorithm_hash=algorithm_hash, refusals=refusals
        )

    def _verify(
        self,
        grant: Grant,
        *,
        task: str,
        dataset: str,
        algorithm_hash: str,
        now: float,
        dataset_fingerprint: str | None = None,
        purpose: str | None = None,
    ) -> None:
        verify_grant(
            grant,
            self._owner_key(grant.scope.hospital),
            task=task,
            dataset=dataset,
            algorithm_hash=algorithm_hash,
            now=now,
            revocation=self._store.get_revocation(grant.grant_id),
            hospital=grant.scope.hospital,
            dataset_fingerprint=dataset_fingerprint,
            purpose=purpose,
        )

    def _why_refused(
        self,
        task: str,
        hospital: str,
        *,
        dataset: str,
        algorithm_hash: str,
        refusals: list[GrantError],
    ) -> GrantError:
        """The most useful refusal: an application awaiting the owner for exactly this use,
        then the most telling failure of an existing grant, then the fate of the last application."""
        apps = self._store.list_applications(task_id=task, hospital=hospital)
        for app in reversed(apps):
            if (
                app.status is ApplicationStatus.PENDING
                and app.request.dataset_id == dataset
                and app.request.algorithm_hash == algorithm_hash
            ):
                return GrantError(
                    GrantRefusal.PENDING,
                    f"{app.application_id} awaits the data owner of {hospital!r}",
                )
        if refusals:
            rank = {reason: i for i, reason in enumerate(_PRIORITY)}
            return min(refusals, key=lambda e: rank.get(e.reason, len(rank)))
        for status, reason in (
            (ApplicationStatus.PENDING, GrantRefusal.PENDING),
            (ApplicationStatus.DENIED, GrantRefusal.DENIED),
        ):
            decided = [a for a in apps if a.status is status]
            if decided:
                last = decided[-1]
                why = f": {last.reason}" if last.reason else ""
                return GrantError(reason, f"{last.application_id} is {status}{why}")
        return GrantError(
            GrantRefusal.NO_GRANT, f"no data-use application for task {task!r} at {hospital!r}"
        )

    def _pending(self, application_id: str) -> Application:
        app = self._store.get_application(application_id)
        if app is None:
            raise GrantError(GrantRefusal.UNKNOWN_APPLICATION, f"no application {application_id}")
        if app.status is not ApplicationStatus.PENDING:
            raise GrantError(
                GrantRefusal.ALREADY_DECIDED, f"{application_id} is already {app.status}"
            )
        return app
