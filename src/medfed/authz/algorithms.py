"""Signed algorithm packages (5.4.2.3a) and the code hash that names them.

A package's code is either one archive (its bytes are hashed) or a tree of files, hashed
through a canonical manifest: the suite digest of the canonical JSON
``{"type": "medfed.algorithm-files", "files": {<relative posix path>: <hex digest>}}``.
Every file counts, ``__pycache__`` included: Python may load a planted ``.pyc`` instead of
its source, so a node should run the code from a fresh copy with bytecode writing off.

The publisher signs the canonical JSON of every field but the signature (plus a type tag);
its key comes from the algorithm party's certificate, never from the package.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path, PurePosixPath
from typing import Any

from medfed.authz._canonical import canonical_json, check_text, check_time, parse_json
from medfed.authz.errors import AlgorithmError, AlgorithmRefusal
from medfed.crypto import CryptoError, SigningKey, Suite, VerifyKey
from medfed.errors import ConfigError

_PACKAGE_TYPE = "medfed.algorithm-package"
_FILES_TYPE = "medfed.algorithm-files"
_FORMAT = 1

#: What :func:`code_hash_of` accepts: archive bytes, a file or directory, or path -> content.
Code = bytes | Path | Mapping[str, bytes]


class CodeKind(enum.StrEnum):
    BYTES = "bytes"  # one archive, hashed as is
    FILES = "files"  # a tree of files, hashed through the canonical manifest


def _relative(name: str) -> str:
    """A clean relative posix path; anything that could escape or alias another is refused."""
    parts = PurePosixPath(name).parts
    if not name or "\\" in name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ConfigError(f"algorithm file path {name!r} must be relative, without '.' or '..'")
    if "/".join(parts) != name:
        raise ConfigError(f"algorithm file path {name!r} is not in normal form")
    return name


def _read_tree(root: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():  # its target could change after the hash was taken
            raise ConfigError(f"algorithm tree {root} contains a symbolic link: {path}")
        if path.is_file():
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    if not files:
        raise ConfigError(f"algorithm tree {root} contains no files")
    return files


def files_manifest(files: Mapping[str, bytes], *, suite: Suite) -> dict[str, str]:
    """Relative path -> hex suite digest of its content, for every file."""
    if not files:
        raise ConfigError("an algorithm needs at least one file")
    return {_relative(name): suite.digest(bytes(content)).hex() for name, content in files.items()}


def code_kind_of(code: Code) -> CodeKind:
    if isinstance(code, bytes | bytearray | memoryview):
        return CodeKind.BYTES
    if isinstance(code, Path):
        return CodeKind.FILES if code.is_dir() else CodeKind.BYTES
    return CodeKind.FILES


def code_hash_of(code: Code, *, suite: Suite) -> str:
    """Hex suite digest naming ``code``: archive bytes (or a file's), or a tree's manifest.

    One changed byte, one renamed, added or removed file gives another hash.
    """
    if isinstance(code, bytes | bytearray | memoryview):
        return suite.digest(bytes(code)).hex()
    if isinstance(code, Path):
        try:
            if not code.is_dir():
                return suite.digest(code.read_bytes()).hex()
            files = _read_tree(code)
        except OSError as exc:
            raise ConfigError(f"cannot read algorithm code {code}: {exc}") from None
    else:
        files = dict(code)
    manifest = files_manifest(files, suite=suite)
    return suite.digest(canonical_json({"type": _FILES_TYPE, "files": manifest})).hex()


@dataclass(frozen=True)
class AlgorithmPackage:
    """A published algorithm: identifier, version, compatibility notes, code hash, signature."""

    algorithm_id: str
    version: str
    compatibility: str  # free text: frameworks, input shapes, medfed versions
    code_hash: str
    code_kind: CodeKind
    suite: str  # whose digest made ``code_hash`` ("gm": SM3, "intl": SHA-256)
    publisher: str
    publisher_key: str  # fingerprint of the publisher's verify key
    published_at: float
    signature: bytes = b""

    def __post_init__(self) -> None:
        check_text(
            algorithm_id=self.algorithm_id,
            version=self.version,
            code_hash=self.code_hash,
            suite=self.suite,
            publisher=self.publisher,
            publisher_key=self.publisher_key,
        )
        object.__setattr__(self, "code_kind", CodeKind(self.code_kind))
        object.__setattr__(self, "published_at", check_time("published_at", self.published_at))

    def signed_bytes(self) -> bytes:
        body = self.to_dict()
        del body["signature"]
        return canonical_json({"type": _PACKAGE_TYPE, "format": _FORMAT, **body})

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "code_kind": self.code_kind.value,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlgorithmPackage:
        names = {f.name for f in fields(cls)}
        if set(data) != names:
            raise ConfigError(
                f"algorithm package has fields {sorted(data)}, expected {sorted(names)}"
            )
        try:
            return cls(**{**data, "signature": bytes.fromhex(data["signature"])})
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"malformed algorithm package: {exc}") from None

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes) -> AlgorithmPackage:
        return cls.from_dict(parse_json(data, "algorithm package"))


@dataclass(frozen=True)
class AlgorithmApproval:
    """A hospital's data owner allows the algorithm with this code hash to touch its data."""

    hospital: str
    algorithm_hash: str
    approved_by: str
    approved_at: float

    def __post_init__(self) -> None:
        check_text(
            hospital=self.hospital, algorithm_hash=self.algorithm_hash, approved_by=self.approved_by
        )
        object.__setattr__(self, "approved_at", check_time("approved_at", self.approved_at))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlgorithmApproval:
        names = {f.name for f in fields(cls)}
        if set(data) != names:
            raise ConfigError(f"approval has fields {sorted(data)}, expected {sorted(names)}")
        return cls(**data)


def sign_package(
    code: Code,
    *,
    algorithm_id: str,
    version: str,
    compatibility: str,
    publisher: str,
    signing_key: SigningKey,
    suite: Suite,
    now: float,
) -> AlgorithmPackage:
    """The publisher's signed package for ``code`` (5.4.2.3a)."""
    unsigned = AlgorithmPackage(
        algorithm_id=algorithm_id,
        version=version,
        compatibility=compatibility,
        code_hash=code_hash_of(code, suite=suite),
        code_kind=code_kind_of(code),
        suite=suite.name,
        publisher=publisher,
        publisher_key=signing_key.verify_key().fingerprint(),
        published_at=now,
    )
    return replace(unsigned, signature=signing_key.sign(unsigned.signed_bytes()))


def verify_package_signature(package: AlgorithmPackage, publisher_key: VerifyKey) -> None:
    """Return if the publisher (key from its certificate) signed ``package``; AlgorithmError otherwise."""
    name = f"{package.algorithm_id} {package.version}"
    if package.publisher_key != publisher_key.fingerprint():
        raise AlgorithmError(
            AlgorithmRefusal.BAD_SIGNATURE, f"{name} names another publisher key than the one given"
        )
    try:
        publisher_key.verify(package.signed_bytes(), package.signature)
    except CryptoError:
        raise AlgorithmError(
            AlgorithmRefusal.BAD_SIGNATURE, f"{name} is not signed by its publisher's key"
        ) from None


def verify_algorithm(
    code: Code,
    package: AlgorithmPackage,
    publisher_key: VerifyKey,
    approvals: Iterable[AlgorithmApproval],
    hospital: str,
    *,
    suite: Suite,
) -> None:
    """Return if ``code`` is the signed ``package`` and ``hospital`` approved it; else AlgorithmError.

    This is the site's own check before running anything: signature, suite, code hash
    recomputed from the code actually received, and the hospital's approval of that hash.
    """
    name = f"{package.algorithm_id} {package.version}"
    verify_package_signature(package, publisher_key)
    if package.suite != suite.name:
        raise AlgorithmError(
            AlgorithmRefusal.WRONG_SUITE,
            f"{name} was hashed with {package.suite!r}, not {suite.name!r}",
        )
    actual = code_hash_of(code, suite=suite)
    if actual != package.code_hash:
        raise AlgorithmError(
            AlgorithmRefusal.ALTERED,
            f"{name}: code hashes to {actual[:16]}…, the package signs {package.code_hash[:16]}…",
        )
    if not any(a.hospital == hospital and a.algorithm_hash == actual for a in approvals):
        raise AlgorithmError(
            AlgorithmRefusal.UNAPPROVED,
            f"{name} ({actual[:16]}…) is not approved by the data owner of {hospital!r}",
        )
