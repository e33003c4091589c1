"""Signed algorithm packages and code hashes (5.4.2.3a), checked at the site."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from medfed.authz import (
    AlgorithmApproval,
    AlgorithmError,
    AlgorithmPackage,
    AlgorithmRefusal,
    CodeKind,
    code_hash_of,
    sign_package,
    verify_algorithm,
)
from medfed.crypto import SigningKey, Suite, get_suite
from medfed.errors import ConfigError

from .support import HOSPITAL, NOW, OTHER_HOSPITAL

FILES = {
    "train.py": b"def train(model, data):\n    return model\n",
    "model/net.py": b"LAYERS = 3\n",
    "README.md": b"A small CNN for chest X-rays.\n",
}


def _package(code: object, key: SigningKey, suite: Suite) -> AlgorithmPackage:
    return sign_package(
        code,  # type: ignore[arg-type]
        algorithm_id="cnn-chest",
        version="1.0.0",
        compatibility="torch>=2.1; 28x28 grey images",
        publisher="algo-party",
        signing_key=key,
        suite=suite,
        now=NOW,
    )


def _approval(package: AlgorithmPackage, hospital: str = HOSPITAL) -> AlgorithmApproval:
    return AlgorithmApproval(hospital, package.code_hash, approved_by="owner-a", approved_at=NOW)


def _write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


def test_code_hash_of_a_tree_equals_that_of_its_mapping(suite: Suite, tmp_path: Path) -> None:
    tree = _write_tree(tmp_path / "algo", FILES)
    assert code_hash_of(tree, suite=suite) == code_hash_of(FILES, suite=suite)
    assert code_hash_of(dict(reversed(FILES.items())), suite=suite) == code_hash_of(
        FILES, suite=suite
    )
    assert len(code_hash_of(FILES, suite=suite)) == 2 * suite.digest_size


def test_code_hash_of_bytes_is_the_suite_digest(suite: Suite, tmp_path: Path) -> None:
    archive = b"PK\x03\x04 pretend zip"
    (tmp_path / "algo.zip").write_bytes(archive)
    assert code_hash_of(archive, suite=suite) == suite.digest(archive).hex()
    assert code_hash_of(tmp_path / "algo.zip", suite=suite) == suite.digest(archive).hex()


@pytest.mark.parametrize(
    "change",
    [
        lambda f: {**f, "train.py": f["train.py"][:-1] + b"\r"},  # one byte
        lambda f: {**f, "model/nets.py": f["model/net.py"]},  # a file added
        lambda f: {k: v for k, v in f.items() if k != "README.md"},  # a file removed
        lambda f: {("train2.py" if k == "train.py" else k): v for k, v in f.items()},  # renamed
    ],
)
def test_any_change_to_the_files_changes_the_hash(suite: Suite, change: object) -> None:
    assert code_hash_of(change(FILES), suite=suite) != code_hash_of(FILES, suite=suite)  # type: ignore[operator]


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "../x.py", "a/../b.py", "./a.py", "a//b.py", "a\\b.py", ""]
)
def test_paths_that_could_escape_or_alias_are_refused(suite: Suite, name: str) -> None:
    with pytest.raises(ConfigError):
        code_hash_of({name: b"x"}, suite=suite)


def test_tree_with_a_symbolic_link_or_no_files_is_refused(suite: Suite, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError):
        code_hash_of(tmp_path / "empty", suite=suite)
    tree = _write_tree(tmp_path / "algo", FILES)
    os.symlink(tree / "train.py", tree / "link.py")
    with pytest.raises(ConfigError):
        code_hash_of(tree, suite=suite)


@pytest.mark.clause("5.4.2.3a")
def test_signed_approved_package_verifies(suite: Suite, publisher_key: SigningKey) -> None:
    package = _package(FILES, publisher_key, suite)
    assert package.code_kind is CodeKind.FILES and package.suite == "intl"
    verify_algorithm(
        FILES, package, publisher_key.verify_key(), [_approval(package)], HOSPITAL, suite=suite
    )


@pytest.mark.clause("5.4.2.3a")
def test_algorithm_altered_by_one_byte_is_refused(
    suite: Suite, publisher_key: SigningKey, tmp_path: Path
) -> None:
    archive = bytes(range(256)) * 4
    package = _package(archive, publisher_key, suite)
    altered = bytearray(archive)
    altered[100] ^= 0x01
    with pytest.raises(AlgorithmError) as refused:
        verify_algorithm(
            bytes(altered),
            package,
            publisher_key.verify_key(),
            [_approval(package)],
            HOSPITAL,
            suite=suite,
        )
    assert refused.value.reason is AlgorithmRefusal.ALTERED
    tree = _write_tree(tmp_path / "algo", FILES)
    package = _package(tree, publisher_key, suite)
    (tree / "model" / "net.py").write_bytes(b"LAYERS = 4\n")
    with pytest.raises(AlgorithmError) as refused:
        verify_algorithm(
            tree, package, publisher_key.verify_key(), [_approval(package)], HOSPITAL, suite=suite
        )
    assert refused.value.reason is AlgorithmRefusal.ALTERED


@pytest.mark.clause("5.4.2.3a")
def test_unapproved_algorithm_is_refused(suite: Suite, publisher_key: SigningKey) -> None:
    package = _package(FILES, publisher_key, suite)
    for approvals in (
        [],
        [_approval(package, OTHER_HOSPITAL)],
        [replace(_approval(package), algorithm_hash="00" * 32)],
    ):
        with pytest.raises(AlgorithmError) as refused:
            verify_algorithm(
                FILES, package, publisher_key.verify_key(), approvals, HOSPITAL, suite=suite
            )
        assert refused.value.reason is AlgorithmRefusal.UNAPPROVED


@pytest.mark.clause("5.4.2.3a")
def test_package_with_a_wrong_signature_is_refused(
    suite: Suite, publisher_key: SigningKey, other_owner_key: SigningKey
) -> None:
    package = _package(FILES, publisher_key, suite)
    approvals = [_approval(package)]
    for bad, key in (
        (_package(FILES, other_owner_key, suite), publisher_key),  # signed by someone else
        (replace(package, version="2.0.0"), publisher_key),  # a field changed after signing
        (replace(package, signature=b"\x00" * 64), publisher_key),
        (package, other_owner_key),  # checked against another publisher's key
    ):
        with pytest.raises(AlgorithmError) as refused:
            verify_algorithm(FILES, bad, key.verify_key(), approvals, HOSPITAL, suite=suite)
        assert refused.value.reason is AlgorithmRefusal.BAD_SIGNATURE


def test_package_survives_the_wire(suite: Suite, publisher_key: SigningKey) -> None:
    package = _package(FILES, publisher_key, suite)
    assert AlgorithmPackage.from_bytes(package.to_bytes()) == package
    with pytest.raises(ConfigError):
        AlgorithmPackage.from_bytes(b'{"algorithm_id": "x"}')


def _gm_or_skip() -> Suite:
    try:
        return get_suite("gm")
    except ImportError:  # the gm suite is an optional part of medfed.crypto
        pytest.skip("the gm suite is not available in this build")


@pytest.mark.clause("5.4.2.3a")
@pytest.mark.parametrize("suite_name", ["intl", "gm"])
def test_signing_and_refusal_work_in_both_suites(suite_name: str) -> None:
    suite = get_suite("intl") if suite_name == "intl" else _gm_or_skip()
    key = suite.generate_signing_key()
    package = _package(FILES, key, suite)
    assert package.suite == suite_name
    approvals = [_approval(package)]
    verify_algorithm(FILES, package, key.verify_key(), approvals, HOSPITAL, suite=suite)
    with pytest.raises(AlgorithmError) as refused:
        altered = {**FILES, "train.py": b"x"}
        verify_algorithm(altered, package, key.verify_key(), approvals, HOSPITAL, suite=suite)
    assert refused.value.reason is AlgorithmRefusal.ALTERED


def test_package_hashed_with_another_suite_is_refused(
    suite: Suite, publisher_key: SigningKey
) -> None:
    claimed = replace(_package(FILES, publisher_key, suite), suite="gm", signature=b"")
    package = replace(claimed, signature=publisher_key.sign(claimed.signed_bytes()))
    with pytest.raises(AlgorithmError) as refused:
        verify_algorithm(
            FILES, package, publisher_key.verify_key(), [_approval(package)], HOSPITAL, suite=suite
        )
    assert refused.value.reason is AlgorithmRefusal.WRONG_SUITE
