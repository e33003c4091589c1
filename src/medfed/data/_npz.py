"""Reading ``.npz`` files without pickle, turning every kind of damage into one error."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medfed.errors import DataIntegrityError


def read_npz(path: Path, keys: Sequence[str]) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of ``path``; :class:`DataIntegrityError` if unreadable or incomplete."""
    try:
        # allow_pickle=False: a data file must never be able to run code.
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in keys if k not in npz.files]
            if missing:
                raise DataIntegrityError(f"{path} lacks the keys {', '.join(missing)}")
            return {k: npz[k] for k in keys}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataIntegrityError(f"{path} is not a readable .npz file: {exc}") from None
