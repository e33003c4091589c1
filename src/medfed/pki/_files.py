"""Writing secret files so that they are never readable by anyone but the owner."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_MODE = 0o600


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600, atomically.

    The bytes go to a temporary file created 0600 by ``os.open`` (so there is no
    moment when a private key sits in a world-readable file, as there would be
    with ``write_bytes`` then ``chmod``) and then replace ``path``. Replacing
    rather than truncating matters: ``O_TRUNC`` on an existing 0644 file would
    keep its loose mode.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            # The umask can only narrow 0600, but pin it anyway so the result is exact.
            os.fchmod(handle.fileno(), PRIVATE_MODE)
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def loose_permissions(path: Path) -> int | None:
    """The mode of ``path`` if group or others have any access to it, else None."""
    mode = path.stat().st_mode & 0o777
    return mode if mode & 0o077 else None
