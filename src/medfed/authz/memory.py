"""The in-memory :class:`AuthzStore`: dictionaries under one lock, gone with the process."""

from __future__ import annotations

import threading

from medfed.authz.algorithms import AlgorithmApproval, AlgorithmPackage
from medfed.authz.grants import Application, ApplicationStatus, Grant, Revocation
from medfed.authz.store import AuthzStore, check_decision
from medfed.errors import ConfigError


class InMemoryAuthzStore(AuthzStore):
    """An :class:`AuthzStore` for tests and simulation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._applications: dict[str, Application] = {}
        self._grants: dict[str, Grant] = {}
        self._revocations: dict[str, Revocation] = {}
        self._packages: dict[tuple[str, str], AlgorithmPackage] = {}
        self._approvals: dict[tuple[str, str], AlgorithmApproval] = {}

    def add_application(self, application: Application) -> None:
        with self._lock:
            if application.application_id in self._applications:
                raise ConfigError(f"application {application.application_id} is already recorded")
            self._applications[application.application_id] = application

    def get_application(self, application_id: str) -> Application | None:
        with self._lock:
            return self._applications.get(application_id)

    def list_applications(
        self,
        *,
        task_id: str | None = None,
        hospital: str | None = None,
        status: ApplicationStatus | None = None,
    ) -> list[Application]:
        with self._lock:
            found = [
                a
                for a in self._applications.values()
                if (task_id is None or a.request.task_id == task_id)
                and (hospital is None or a.request.hospital == hospital)
                and (status is None or a.status is status)
            ]
        return sorted(found, key=lambda a: (a.created_at, a.application_id))

    def record_decision(self, decided: Application, grant: Grant | None = None) -> bool:
        check_decision(decided, grant)
        with self._lock:
            current = self._applications.get(decided.application_id)
            if current is None or current.status is not ApplicationStatus.PENDING:
                return False
            if grant is not None:
                if grant.grant_id in self._grants:
                    raise ConfigError(f"grant {grant.grant_id} is already recorded")
                self._grants[grant.grant_id] = grant
            self._applications[decided.application_id] = decided
            return True

    def get_grant(self, grant_id: str) -> Grant | None:
        with self._lock:
            return self._grants.get(grant_id)

    def list_grants(
        self, *, task_id: str | None = None, hospital: str | None = None
    ) -> list[Grant]:
        with self._lock:
            found = [
                g
                for g in self._grants.values()
                if (task_id is None or g.scope.task_id == task_id)
                and (hospital is None or g.scope.hospital == hospital)
            ]
        return sorted(found, key=lambda g: (g.scope.issued_at, g.grant_id))

    def add_revocation(self, revocation: Revocation) -> bool:
        with self._lock:
            if revocation.grant_id in self._revocations:
                return False
            self._revocations[revocation.grant_id] = revocation
            return True

    def get_revocation(self, grant_id: str) -> Revocation | None:
        with self._lock:
            return self._revocations.get(grant_id)

    def add_package(self, package: AlgorithmPackage) -> bool:
        key = (package.algorithm_id, package.version)
        with self._lock:
            existing = self._packages.get(key)
            if existing == package:
                return False
            if existing is not None:
                raise ConfigError(f"algorithm {key[0]} version {key[1]} is already published")
            self._packages[key] = package
            return True

    def get_package(self, algorithm_id: str, version: str) -> AlgorithmPackage | None:
        with self._lock:
            return self._packages.get((algorithm_id, version))

    def list_packages(
        self, *, algorithm_id: str | None = None, code_hash: str | None = None
    ) -> list[AlgorithmPackage]:
        with self._lock:
            return [
                p
                for key, p in sorted(self._packages.items())
                if (algorithm_id is None or p.algorithm_id == algorithm_id)
                and (code_hash is None or p.code_hash == code_hash)
            ]

    def add_approval(self, approval: AlgorithmApproval) -> None:
        with self._lock:
            self._approvals[(approval.hospital, approval.algorithm_hash)] = approval

    def remove_approval(self, hospital: str, algorithm_hash: str) -> None:
        with self._lock:
            self._approvals.pop((hospital, algorithm_hash), None)

    def list_approvals(self, *, hospital: str | None = None) -> list[AlgorithmApproval]:
        with self._lock:
            return [
                a
                for key, a in sorted(self._approvals.items())
                if hospital is None or a.hospital == hospital
            ]

    def close(self) -> None:
        """Nothing to release: the dictionaries go with the object."""
