"""Writing a registered dataset: every file staged, checked for identifiers, then moved in.

A crash leaves either the previous dataset or the new one, never half of one: files are
written to a staging folder beside the target and renamed into it only after the last one
is complete and nothing in them matches an original identifier. The record goes last, so
its presence marks a complete registration.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from medfed.data.register.redact import Redactor
from medfed.errors import ConfigError, DataError

RECORD_FILE = "record.json"


def write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with path.open("wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]


# Lower-case identifiers as JSON keys are the product's own field names ("test", "test.npz"):
# scanning them would refuse every folder holding a phantom named TEST^PHANTOM.
_FIELD_NAME = re.compile(r"[a-z_]+(\.[a-z]+)?")


def _json_strings(node: Any) -> list[str]:
    """Every string a JSON document holds, field names excepted; numbers are counts."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        out = [k for k in node if not _FIELD_NAME.fullmatch(k)]
        for value in node.values():
            out.extend(_json_strings(value))
        return out
    if isinstance(node, list):
        return [s for value in node for s in _json_strings(value)]
    return []


def text_of(path: Path) -> str:
    """The text a file carries: a text file whole, a JSON file its strings (field names
    excepted), an ``.npz`` its string arrays."""
    if path.suffix == ".json":
        return "\n".join(_json_strings(json.loads(path.read_text(encoding="utf-8"))))
    if path.suffix != ".npz":
        return path.read_text(encoding="utf-8")
    with np.load(path, allow_pickle=False) as npz:
        return "\n".join(str(npz[k]) for k in npz.files if npz[k].dtype.kind == "U")


def stage_and_commit(
    target: Path, redactor: Redactor, write: Callable[[Path], None]
) -> list[Path]:
    """Run ``write(staging_folder)``, check every file for identifiers, move them into
    ``target`` (the record last). :class:`DataError` and nothing changed if a check fails;
    :class:`ConfigError` if ``target`` cannot be written."""
    try:
        target.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".register-", suffix=".part", dir=target))
    except OSError as exc:  # a file of that name, no permission, a read-only disk
        raise ConfigError(f"the dataset folder {target} cannot be written: {exc.strerror}") from None
    try:
        write(staging)
        written = sorted(staging.iterdir(), key=lambda p: (p.name == RECORD_FILE, p.name))
        for path in written:
            kinds = redactor.kinds_in(text_of(path))
            if kinds:
                raise DataError(
                    f"refusing to register: {path.name} would hold original "
                    f"{', '.join(kinds)} identifiers"
                )
        (target / RECORD_FILE).unlink(missing_ok=True)  # incomplete until the new record lands
        for path in written:
            os.replace(path, target / path.name)
        return [target / p.name for p in written]
    finally:
        shutil.rmtree(staging, ignore_errors=True)
