"""Checksums and verified downloads: a file either arrives whole and correct, or not at all."""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from medfed.errors import DataIntegrityError, DataUnavailableError

_CHUNK = 1 << 20
_TIMEOUT_S = 60.0

# (resolved path, size in bytes, mtime in ns) -> md5 hex. Hashing a 100 MB file costs about
# a quarter second; a study loads the same file once per party, so remember the answer
# while the file's size and mtime say it has not changed.
_MD5_CACHE: dict[tuple[str, int, int], str] = {}


def _hash_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_md5(path: Path) -> str:
    """MD5 hex digest of ``path``, cached per (path, size, mtime) within this process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _MD5_CACHE:
        _MD5_CACHE[key] = _hash_file(path)
    return _MD5_CACHE[key]


def check_md5(path: Path, expected: str) -> None:
    """Raise :class:`DataIntegrityError` naming the file and both digests if they differ."""
    actual = file_md5(path)
    if actual != expected:
        raise DataIntegrityError(
            f"{path} has MD5 {actual}, expected {expected}: the file is corrupt or not the "
            "official release; delete it and provide the official file"
        )


class _Progress:
    """One self-overwriting line on stderr; redrawn at most once per percent."""

    def __init__(self, name: str, total: int | None) -> None:
        self.name, self.total, self.done, self._last = name, total, 0, -1

    def advance(self, n: int) -> None:
        self.done += n
        mark = self.done * 100 // self.total if self.total else self.done // _CHUNK
        if mark != self._last:
            self._last = mark
            of = f" / {self.total / 1e6:.1f} MB ({mark}%)" if self.total else " MB"
            sys.stderr.write(f"\rdownloading {self.name}: {self.done / 1e6:.1f}{of}")
            sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


def download_verified(url: str, dest: Path, *, md5: str) -> None:
    """Fetch ``url`` into ``dest`` only if its MD5 is ``md5``.

    The bytes go to a temporary file beside ``dest`` and are renamed over it only
    after the checksum matches, so a crash, a dropped connection or a wrong file
    never leaves a half or bad ``dest`` behind. Network failures raise
    :class:`DataUnavailableError`; a wrong checksum raises :class:`DataIntegrityError`.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
                    length = response.headers.get("Content-Length")
                    progress = _Progress(dest.name, int(length) if length else None)
                    try:
                        while chunk := response.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                            progress.advance(len(chunk))
                    finally:
                        progress.close()
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                raise DataUnavailableError(f"download of {url} failed: {exc}") from exc
        actual = digest.hexdigest()
        if actual != md5:
            raise DataIntegrityError(
                f"downloaded {dest.name} from {url} has MD5 {actual}, expected {md5}; "
                "the file was discarded"
            )
        os.replace(tmp, dest)
        stat = dest.stat()  # the digest is known: spare the next load a re-hash
        _MD5_CACHE[(str(dest.resolve()), stat.st_size, stat.st_mtime_ns)] = actual
    finally:
        tmp.unlink(missing_ok=True)
