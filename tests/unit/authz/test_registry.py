"""The algorithm registry (5.4.2.3b): publish signed packages, approve code hashes per hospital."""

from __future__ import annotations

from dataclasses import replace

import pytest

from medfed.authz import (
    AlgorithmError,
    AlgorithmPackage,
    AlgorithmRefusal,
    AlgorithmRegistry,
    AuthzStore,
    sign_package,
)
from medfed.crypto import SigningKey, Suite

from .support import HOSPITAL, NOW, OTHER_HOSPITAL

CODE = {"train.py": b"def train(model, data):\n    return model\n"}

pytestmark = pytest.mark.clause("5.4.2.3b")


@pytest.fixture
def registry(store: AuthzStore, suite: Suite, publisher_key: SigningKey) -> AlgorithmRegistry:
    return AlgorithmRegistry(
        store, suite=suite, publisher_keys={"algo-party": publisher_key.verify_key()}
    )


def _package(
    suite: Suite, key: SigningKey, *, version: str = "1.0.0", code: dict[str, bytes] = CODE
) -> AlgorithmPackage:
    return sign_package(
        code,
        algorithm_id="cnn-chest",
        version=version,
        compatibility="torch>=2.1",
        publisher="algo-party",
        signing_key=key,
        suite=suite,
        now=NOW,
    )


def _reason(call: object, *args: object, **kwargs: object) -> AlgorithmRefusal:
    with pytest.raises(AlgorithmError) as refused:
        call(*args, **kwargs)  # type: ignore[operator]
    return refused.value.reason


def test_published_package_is_listed_with_id_version_and_compatibility(
    registry: AlgorithmRegistry, suite: Suite, publisher_key: SigningKey
) -> None:
    package = registry.publish(_package(suite, publisher_key))
    assert registry.get("cnn-chest", "1.0.0") == package
    assert [(p.algorithm_id, p.version, p.compatibility) for p in registry.packages()] == [
        ("cnn-chest", "1.0.0", "torch>=2.1")
    ]
    assert registry.publish(package) == package  # publishing the same package again is harmless


@pytest.mark.clause("5.4.2.3a")
def test_unsigned_or_unknown_publishers_package_is_not_published(
    registry: AlgorithmRegistry,
    suite: Suite,
    publisher_key: SigningKey,
    other_owner_key: SigningKey,
) -> None:
    forged = _package(suite, other_owner_key)
    assert _reason(registry.publish, forged) is AlgorithmRefusal.BAD_SIGNATURE
    stranger = replace(forged, publisher="someone-else")
    assert _reason(registry.publish, stranger) is AlgorithmRefusal.UNKNOWN
    assert registry.packages() == []


def test_a_published_version_never_changes(
    registry: AlgorithmRegistry, suite: Suite, publisher_key: SigningKey
) -> None:
    registry.publish(_package(suite, publisher_key))
    changed = _package(suite, publisher_key, code={"train.py": b"import os\n"})
    assert _reason(registry.publish, changed) is AlgorithmRefusal.VERSION_EXISTS
    registry.publish(_package(suite, publisher_key, version="1.0.1", code={"train.py": b"x=1\n"}))
    assert [p.version for p in registry.packages(algorithm_id="cnn-chest")] == ["1.0.0", "1.0.1"]


def test_approval_is_per_hospital_and_can_be_withdrawn(
    registry: AlgorithmRegistry, suite: Suite, publisher_key: SigningKey
) -> None:
    package = registry.publish(_package(suite, publisher_key))
    verify = registry.verify
    use = {"algorithm_id": "cnn-chest", "version": "1.0.0"}
    assert _reason(verify, CODE, hospital=HOSPITAL, **use) is AlgorithmRefusal.UNAPPROVED
    registry.approve(HOSPITAL, package.code_hash, approved_by="owner-a", now=NOW)
    assert verify(CODE, hospital=HOSPITAL, **use) == package
    assert _reason(verify, CODE, hospital=OTHER_HOSPITAL, **use) is AlgorithmRefusal.UNAPPROVED
    registry.withdraw(HOSPITAL, package.code_hash)
    assert _reason(verify, CODE, hospital=HOSPITAL, **use) is AlgorithmRefusal.UNAPPROVED


def test_altered_code_is_refused_even_when_approved(
    registry: AlgorithmRegistry, suite: Suite, publisher_key: SigningKey
) -> None:
    package = registry.publish(_package(suite, publisher_key))
    registry.approve(HOSPITAL, package.code_hash, approved_by="owner-a", now=NOW)
    altered = {"train.py": CODE["train.py"].replace(b"return", b"return ")}
    use = {"algorithm_id": "cnn-chest", "version": "1.0.0", "hospital": HOSPITAL}
    assert _reason(registry.verify, altered, **use) is AlgorithmRefusal.ALTERED


def test_only_published_code_can_be_approved_and_unknown_versions_are_refused(
    registry: AlgorithmRegistry,
) -> None:
    approve = registry.approve
    assert (
        _reason(approve, HOSPITAL, "00" * 32, approved_by="o", now=NOW) is AlgorithmRefusal.UNKNOWN
    )
    assert _reason(registry.get, "cnn-chest", "9.9") is AlgorithmRefusal.UNKNOWN
