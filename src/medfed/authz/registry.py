"""The algorithm registry (5.4.2.3b): algorithm parties publish, data owners approve.

Only a package signed by a known publisher's key is published; a published version never
changes; a hospital approves code hashes, not names, so an altered package is never
covered by an earlier approval. The registry feeds the dispatcher's scheduling (5.4.2.3d);
the node keeps its own approvals and runs :func:`verify_algorithm` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from medfed.authz.algorithms import (
    AlgorithmApproval,
    AlgorithmPackage,
    Code,
    verify_algorithm,
    verify_package_signature,
)
from medfed.authz.errors import AlgorithmError, AlgorithmRefusal
from medfed.authz.store import AuthzStore
from medfed.crypto import Suite, VerifyKey
from medfed.errors import ConfigError


class AlgorithmRegistry:
    """Published algorithm packages and each hospital's approvals of their code hashes.

    ``publisher_keys`` maps each algorithm party's name to its verify key, taken from the
    party's certificate (5.4.2.3a).
    """

    def __init__(
        self, store: AuthzStore, *, suite: Suite, publisher_keys: Mapping[str, VerifyKey]
    ) -> None:
        self._store = store
        self._suite = suite
        self._publisher_keys = MappingProxyType(dict(publisher_keys))

    def publisher_key(self, publisher: str) -> VerifyKey:
        try:
            return self._publisher_keys[publisher]
        except KeyError:
            raise AlgorithmError(
                AlgorithmRefusal.UNKNOWN, f"{publisher!r} is not a known algorithm party"
            ) from None

    def publish(self, package: AlgorithmPackage) -> AlgorithmPackage:
        """Record a signed package; publishing the identical package again is harmless."""
        verify_package_signature(package, self.publisher_key(package.publisher))
        if package.suite != self._suite.name:
            raise AlgorithmError(
                AlgorithmRefusal.WRONG_SUITE,
                f"package uses suite {package.suite!r}; this study uses {self._suite.name!r}",
            )
        try:
            self._store.add_package(package)
        except ConfigError as exc:
            raise AlgorithmError(AlgorithmRefusal.VERSION_EXISTS, str(exc)) from None
        return package

    def get(self, algorithm_id: str, version: str) -> AlgorithmPackage:
        package = self._store.get_package(algorithm_id, version)
        if package is None:
            raise AlgorithmError(
                AlgorithmRefusal.UNKNOWN, f"no algorithm {algorithm_id!r} version {version!r}"
            )
        return package

    def packages(self, *, algorithm_id: str | None = None) -> list[AlgorithmPackage]:
        return self._store.list_packages(algorithm_id=algorithm_id)

    def approve(
        self, hospital: str, algorithm_hash: str, *, approved_by: str, now: float
    ) -> AlgorithmApproval:
        """The data owner of ``hospital`` allows the published code ``algorithm_hash``."""
        if not self._store.list_packages(code_hash=algorithm_hash):
            raise AlgorithmError(
                AlgorithmRefusal.UNKNOWN,
                f"no published package has code hash {algorithm_hash[:16]}…",
            )
        approval = AlgorithmApproval(hospital, algorithm_hash, approved_by, approved_at=now)
        self._store.add_approval(approval)
        return approval

    def withdraw(self, hospital: str, algorithm_hash: str) -> None:
        """The data owner no longer allows this code; later checks refuse it."""
        self._store.remove_approval(hospital, algorithm_hash)

    def approvals(self, hospital: str) -> list[AlgorithmApproval]:
        return self._store.list_approvals(hospital=hospital)

    def verify(
        self, code: Code, *, algorithm_id: str, version: str, hospital: str
    ) -> AlgorithmPackage:
        """The package, once ``code`` is proved to be it and ``hospital`` approved it."""
        package = self.get(algorithm_id, version)
        verify_algorithm(
            code,
            package,
            self.publisher_key(package.publisher),
            self.approvals(hospital),
            hospital,
            suite=self._suite,
        )
        return package
