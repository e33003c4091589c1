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


def json_strings(node: Any, *, field_names: bool = False) -> list[str]:
    """Every string a JSON document holds, field names excepted unless ``field_names``;
    numbers are counts."""
    return [text for _, text in _located_strings(node, "", field_names=field_names)]


def _located_strings(node: Any, where: str, *, field_names: bool) -> list[tuple[str, str]]:
    """``(where, text)`` for every string under ``node``; ``where`` is its field path."""
    if isinstance(node, str):
        return [(where, node)]
    if isinstance(node, dict):
        out = [(where, k) for k in node if field_names or not _FIELD_NAME.fullmatch(k)]
        for key, value in node.items():
            inner = f"{where}.{key}" if where else str(key)
            out.extend(_located_strings(value, inner, field_names=field_names))
        return out
    if isinstance(node, list):
        return [pair for value in node for pair in _located_strings(value, where, field_names=field_names)]
    return []


def located_text(path: Path) -> list[tuple[str, str]]:
    """The text a file carries, each piece with where it is: a JSON file its strings (field
    names excepted) by field path, a text file its lines by number, an ``.npz`` its string
    arrays by name."""
    if path.suffix == ".json":
        return _located_strings(json.loads(path.read_text(encoding="utf-8")), "", field_names=False)
    if path.suffix != ".npz":
        lines = path.read_text(encoding="utf-8").splitlines()
        return [(f"line {n}", line) for n, line in enumerate(lines, 1)]
    with np.load(path, allow_pickle=False) as npz:
        return [(k, str(npz[k])) for k in npz.files if npz[k].dtype.kind == "U"]


def stage_and_commit(
    target: Path,
    redactor: Redactor,
    write: Callable[[Path], None],
    *,
    vocabulary: frozenset[str] = frozenset(),
) -> list[Path]:
    """Run ``write(staging_folder)``, check every file for identifiers, move them into
    ``target`` (the record last). :class:`DataError` and nothing changed if a check fails;
    :class:`ConfigError` if ``target`` cannot be written. Words in ``vocabulary`` (the
    product's own, see :meth:`Redactor.kinds_in`) do not count as identifiers."""
    try:
        target.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".register-", suffix=".part", dir=target))
    except OSError as exc:  # a file of that name, no permission, a read-only disk
        raise ConfigError(f"the dataset folder {target} cannot be written: {exc.strerror}") from None
    try:
        write(staging)
        written = sorted(staging.iterdir(), key=lambda p: (p.name == RECORD_FILE, p.name))
        for path in written:
            pieces = located_text(path)
            if redactor.kinds_in("\n".join(t for _, t in pieces), vocabulary=vocabulary):
                raise _refusal(path.name, pieces, redactor, vocabulary)
        (target / RECORD_FILE).unlink(missing_ok=True)  # incomplete until the new record lands
        for path in written:
            os.replace(path, target / path.name)
        return [target / p.name for p in written]
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _refusal(
    name: str, pieces: list[tuple[str, str]], redactor: Redactor, vocabulary: frozenset[str]
) -> DataError:
    """The error for an output holding an identifier: which kinds, where, and what to do (the
    value itself is never quoted)."""
    kinds: list[str] = []
    places: list[str] = []
    for where, text in pieces:
        found = redactor.kinds_in(text, vocabulary=vocabulary)
        if found:
            kinds.extend(k for k in found if k not in kinds)
            if where not in places:
                places.append(where)
    shown = ", ".join(places[:5]) + (f" and {len(places) - 5} more" if len(places) > 5 else "")
    return DataError(
        f"refusing to register: {name} would hold original {', '.join(kinds)} identifiers "
        f"(at {shown}); nothing was written. What is there most likely comes from the source "
        "files (a file or folder name, a Modality value, a reader's message) and equals a "
        "patient's name or ID: rename the files or folders that carry it, or move that patient's files "
        "out of the folder, and register again"
    )
