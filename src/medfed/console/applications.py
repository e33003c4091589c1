"""Data-use applications on the console (5.5.1.2e–f): everyone who may view tasks sees them;
only the data owner of the hospital concerned decides.

Approving signs a grant with the hospital's own key, so the console can approve only for a
hospital whose owner's kit is configured on this machine; denying needs no key.
"""

from __future__ import annotations

from pathlib import Path

from medfed.authz import (
    Action,
    Application,
    GrantBook,
    PermissionDeniedError,
    SqliteAuthzStore,
    require,
)
from medfed.console.accounts import Account
from medfed.console.settings import ConsoleSettings
from medfed.console.study_context import StudyContext
from medfed.errors import ConfigError
from medfed.orchestration import consent
from medfed.pki import load_kit
from medfed.roles import Role


class ApplicationDesk:
    """Lists the dispatcher's applications and records the owners' decisions."""

    def __init__(self, settings: ConsoleSettings, context: StudyContext) -> None:
        # One connection for the console's life (the store serialises its own access).
        self._store = SqliteAuthzStore(Path(settings.grants)) if settings.grants is not None else None
        self._owner_kits = dict(settings.owner_kits)
        self._context = context

    @property
    def configured(self) -> bool:
        return self._store is not None

    def list(self) -> list[Application]:
        if self._store is None:
            return []
        return sorted(self._store.list_applications(), key=lambda a: a.created_at, reverse=True)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def may_decide(self, account: Account, app: Application) -> bool:
        return account.role is Role.DATA and account.party == app.request.hospital

    def approve(self, account: Account, application_id: str) -> str:
        """Sign the application into a grant with the owner's kit; returns the grant id."""
        app = self._decidable(account, application_id)
        owner_kit = self._owner_kits.get(app.request.hospital)
        if owner_kit is None:
            raise ConfigError(
                f"this console holds no kit for {app.request.hospital!r}: its data owner approves "
                "at the hospital (medfed grant approve --kit …), or start the console with --owner-kit"
            )
        if load_kit(owner_kit).name != app.request.hospital:
            raise ConfigError(f"the owner kit configured for {app.request.hospital!r} belongs to another party")
        grant = consent.approve(self._book(), application_id, owner_kit, study=self._context.study)
        return grant.grant_id

    def deny(self, account: Account, application_id: str, reason: str) -> None:
        self._decidable(account, application_id)
        consent.deny(self._book(), application_id, reason.strip() or f"denied by {account.name}")

    def _decidable(self, account: Account, application_id: str) -> Application:
        require(account.role, Action.APPROVE_GRANT)
        app = next((a for a in self.list() if a.application_id == application_id), None)
        if app is None:
            raise ConfigError(f"no application {application_id!r}")
        if not self.may_decide(account, app):
            raise PermissionDeniedError(
                f"{account.name} owns the data of {account.party or 'no hospital'}, "
                f"not of {app.request.hospital!r}: only that hospital's data owner decides"
            )
        return app

    def _book(self) -> GrantBook:
        assert self._store is not None  # _decidable found an application in it
        return GrantBook(self._store, self._context.owner_keys())
