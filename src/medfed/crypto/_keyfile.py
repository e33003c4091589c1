"""Key files at rest: an argon2id-derived key seals the PKCS#8 PEM with the suite's AEAD.

File (JSON, mode 0600, written atomically)::

    {"format": "medfed-key/1", "suite": "gm", "fingerprint": "<hex>",
     "kdf": {"name": "argon2id", "salt": "<b64>", "time_cost": 3,
             "memory_cost_kib": 65536, "parallelism": 4},
     "sealed": "<b64: suite.seal(argon2id(passphrase, salt), pkcs8_pem, aad=header)>"}

The header (everything but ``sealed``, canonical JSON) is the AEAD's associated data, so a
changed fingerprint, suite or KDF parameter makes the file fail to open like a wrong
passphrase does. The sealing cipher is SM4-GCM for ``gm`` and AES-256-GCM for ``intl``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from argon2.exceptions import HashingError
from argon2.low_level import Type, hash_secret_raw

from medfed.crypto.suite import CryptoError, Suite
from medfed.errors import ConfigError

FORMAT = "medfed-key/1"
_SALT_BYTES = 16


@dataclass(frozen=True)
class KdfParams:
    """argon2id cost: RFC 9106's second recommended option by default (64 MiB, t=3, p=4)."""

    time_cost: int = 3
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 4

    def __post_init__(self) -> None:
        # Bounds on what a key file may ask for: too weak defeats the point, too large is a
        # denial of service when a tampered file is opened.
        if not 1 <= self.time_cost <= 64:
            raise ConfigError("argon2id time_cost must be between 1 and 64")
        if not 8 * 1024 <= self.memory_cost_kib <= 4 * 1024 * 1024:
            raise ConfigError("argon2id memory_cost_kib must be between 8 MiB and 4 GiB")
        if not 1 <= self.parallelism <= 64:
            raise ConfigError("argon2id parallelism must be between 1 and 64")


def _derive(passphrase: bytes, salt: bytes, params: KdfParams, size: int) -> bytes:
    if not passphrase:
        raise ConfigError("a non-empty passphrase is required to protect keys at rest")
    try:
        return hash_secret_raw(
            passphrase,
            salt,
            time_cost=params.time_cost,
            memory_cost=params.memory_cost_kib,
            parallelism=params.parallelism,
            hash_len=size,
            type=Type.ID,
        )
    except HashingError as exc:
        raise CryptoError("cannot derive key-file key") from exc


def _aad(header: Mapping[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def seal_key_file(
    suite: Suite, pem: bytes, fingerprint: str, passphrase: bytes, params: KdfParams
) -> bytes:
    """The bytes of a key file holding ``pem`` (an unencrypted PKCS#8 PEM)."""
    salt = secrets.token_bytes(_SALT_BYTES)
    header = {
        "format": FORMAT,
        "suite": suite.name,
        "fingerprint": fingerprint,
        "kdf": {"name": "argon2id", "salt": base64.b64encode(salt).decode(), **asdict(params)},
    }
    key = _derive(passphrase, salt, params, suite.seal_key_size)
    sealed = suite.seal(key, pem, aad=_aad(header))
    return json.dumps({**header, "sealed": base64.b64encode(sealed).decode()}, indent=1).encode()


def open_key_file(suite: Suite, data: bytes, passphrase: bytes) -> tuple[bytes, str]:
    """(PKCS#8 PEM, recorded fingerprint) of a key file; CryptoError on any failure."""
    try:
        document = json.loads(data)
        sealed = base64.b64decode(document.pop("sealed"), validate=True)
        kdf = dict(document["kdf"])
        salt = base64.b64decode(kdf.pop("salt"), validate=True)
        if document["format"] != FORMAT or document["suite"] != suite.name:
            raise ValueError("not a key file of this suite")
        if kdf.pop("name") != "argon2id":
            raise ValueError("unknown KDF")
        params = KdfParams(**kdf)
        fingerprint = str(document["fingerprint"])
    except (ValueError, KeyError, TypeError, AttributeError, ConfigError) as exc:
        raise CryptoError("cannot open key file") from exc
    key = _derive(passphrase, salt, params, suite.seal_key_size)
    return suite.open(key, sealed, aad=_aad(document)), fingerprint


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600: a temporary file in the same
    directory, fsync, rename; on any failure the temporary file is removed."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def shred(path: Path) -> None:
    """Overwrite ``path`` with random bytes (same length, fsync), then delete it.

    On copy-on-write or journalling file systems and on SSDs the old blocks may survive;
    full-disk encryption is what protects against that, this only removes the easy copy.
    """
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.write(secrets.token_bytes(size))
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink()
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
