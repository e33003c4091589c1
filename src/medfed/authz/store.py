"""What authorization remembers, behind one interface (STYLE principle 6).

Two backends share :class:`AuthzStore` and one contract test suite: ``InMemoryAuthzStore``
(tests, simulation) and ``SqliteAuthzStore`` (a service that must survive a restart).
Records are immutable; the only change of state is an application's single decision,
which :meth:`AuthzStore.record_decision` makes atomically together with its grant.
Every list comes back in a fixed order, so both backends answer identically.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from medfed.authz.algorithms import AlgorithmApproval, AlgorithmPackage
from medfed.authz.grants import Application, ApplicationStatus, Grant, Revocation
from medfed.errors import ConfigError


def check_decision(decided: Application, grant: Grant | None) -> None:
    """Refuse a decision that is not one: shared by both backends so they refuse alike."""
    if decided.status is ApplicationStatus.PENDING:
        raise ConfigError("a decision must approve or deny, not leave the application pending")
    if (grant is None) != (decided.status is ApplicationStatus.DENIED):
        raise ConfigError("an approval comes with its grant, a denial without one")
    if grant is not None and (
        grant.grant_id != decided.grant_id or grant.scope.application_id != decided.application_id
    ):
        raise ConfigError(f"grant {grant.grant_id} does not belong to {decided.application_id}")


class AuthzStore(ABC):
    """Applications, grants, revocations, algorithm packages and algorithm approvals."""

    # -- data-use applications and grants ---------------------------------------------

    @abstractmethod
    def add_application(self, application: Application) -> None:
        """Record a new application; ConfigError if its id is already recorded."""

    @abstractmethod
    def get_application(self, application_id: str) -> Application | None: ...

    @abstractmethod
    def list_applications(
        self,
        *,
        task_id: str | None = None,
        hospital: str | None = None,
        status: ApplicationStatus | None = None,
    ) -> list[Application]:
        """Matching applications, oldest first (by ``created_at``, then id)."""

    @abstractmethod
    def record_decision(self, decided: Application, grant: Grant | None = None) -> bool:
        """Replace a PENDING application by its decision, and store the approval's grant.

        Atomic: False (and nothing written) if the application is absent or already decided,
        so two owners' consoles can never both decide one application.
        """

    @abstractmethod
    def get_grant(self, grant_id: str) -> Grant | None: ...

    @abstractmethod
    def list_grants(
        self, *, task_id: str | None = None, hospital: str | None = None
    ) -> list[Grant]:
        """Matching grants, oldest first (by ``issued_at``, then id)."""

    @abstractmethod
    def add_revocation(self, revocation: Revocation) -> bool:
        """Record a revocation; False (the first one kept) if the grant was already revoked."""

    @abstractmethod
    def get_revocation(self, grant_id: str) -> Revocation | None: ...

    # -- algorithm registry -----------------------------------------------------------

    @abstractmethod
    def add_package(self, package: AlgorithmPackage) -> bool:
        """Record a package; False if the identical package is recorded.

        ConfigError if another package holds the same (algorithm_id, version): a published
        version never changes.
        """

    @abstractmethod
    def get_package(self, algorithm_id: str, version: str) -> AlgorithmPackage | None: ...

    @abstractmethod
    def list_packages(
        self, *, algorithm_id: str | None = None, code_hash: str | None = None
    ) -> list[AlgorithmPackage]:
        """Matching packages, ordered by (algorithm_id, version)."""

    @abstractmethod
    def add_approval(self, approval: AlgorithmApproval) -> None:
        """Record (or replace) the approval of one code hash by one hospital."""

    @abstractmethod
    def remove_approval(self, hospital: str, algorithm_hash: str) -> None:
        """Withdraw an approval; one that is absent is not an error."""

    @abstractmethod
    def list_approvals(self, *, hospital: str | None = None) -> list[AlgorithmApproval]:
        """Matching approvals, ordered by (hospital, algorithm_hash)."""

    @abstractmethod
    def close(self) -> None:
        """Release the backend's resources."""
