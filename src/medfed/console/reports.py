"""Run folders on the console (5.5.2): the metrics of each and its report, plots included.

A run folder is any folder under the runs root holding ``report.html``; it is named by its
path relative to the root. Names are checked and resolved inside the root, and so are the
files read from a folder (``report.html`` or ``results.json`` may be symbolic links): a request
can never read a file elsewhere.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medfed.errors import ConfigError

REPORT_FILE = "report.html"
RESULTS_FILE = "results.json"
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_MAX_DEPTH = 4


@dataclass(frozen=True)
class RunSummary:
    name: str  # path relative to the runs root, "/"-separated
    modified: str
    study: str
    mode: str
    federated_auc: float | None
    centralized_auc: float | None
    delta_auc: float | None


def _metric(results: dict[str, Any], section: str, key: str = "auc") -> float | None:
    value = results.get(section, {})
    value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _inside(base: Path, path: Path) -> Path | None:
    """``path`` resolved (links followed) if it is a regular file under ``base``, else None."""
    try:
        target = path.resolve()
    except (OSError, RuntimeError):  # a link loop
        return None
    return target if target.is_relative_to(base) and target.is_file() else None


def _summary(root: Path, folder: Path) -> RunSummary:
    source = _inside(root, folder / RESULTS_FILE)
    try:
        results = json.loads(source.read_text(encoding="utf-8")) if source else {}
    except (OSError, ValueError):
        results = {}
    if not isinstance(results, dict):
        results = {}
    study = results.get("study")
    study_id = study.get("id", "") if isinstance(study, dict) else str(study or "")
    modified = datetime.fromtimestamp((folder / REPORT_FILE).stat().st_mtime, UTC)
    return RunSummary(
        name=folder.relative_to(root).as_posix(),
        modified=modified.strftime("%Y-%m-%d %H:%M:%S UTC"),
        study=study_id,
        mode=str(results.get("mode", "")),
        federated_auc=_metric(results, "federated"),
        centralized_auc=_metric(results, "centralized"),
        delta_auc=_metric(results, "delta"),
    )


def list_runs(root: Path) -> list[RunSummary]:
    """Every run folder under ``root`` (newest first); none if the root does not exist."""
    if not root.is_dir():
        return []
    found: list[Path] = []
    base = root.resolve()
    for depth in range(1, _MAX_DEPTH + 1):
        pattern = "/".join(["*"] * depth) + "/" + REPORT_FILE
        found += [p.parent for p in base.glob(pattern) if _inside(base, p) is not None]
    runs = [_summary(base, folder) for folder in found]
    return sorted(runs, key=lambda r: r.modified, reverse=True)


def run_folder(root: Path, name: str) -> Path:
    """The run folder called ``name`` under ``root``; ConfigError for anything else."""
    parts = name.split("/")
    if not 0 < len(parts) <= _MAX_DEPTH or not all(_SEGMENT.fullmatch(p) for p in parts):
        raise ConfigError(f"no run folder {name!r}")
    base = root.resolve()
    folder = (base / Path(*parts)).resolve()
    if not folder.is_relative_to(base) or _inside(base, folder / REPORT_FILE) is None:
        raise ConfigError(f"no run folder {name!r}")
    return folder


def report_path(root: Path, name: str) -> Path:
    """The report file of run folder ``name``, links resolved, inside ``root``; ConfigError otherwise."""
    found = _inside(root.resolve(), run_folder(root, name) / REPORT_FILE)
    if found is None:  # replaced since run_folder looked
        raise ConfigError(f"no run folder {name!r}")
    return found


def run_name(root: Path, folder: Path | str) -> str | None:
    """``folder``'s name under ``root`` if it is a run folder there, else None."""
    try:
        relative = Path(folder).resolve().relative_to(root.resolve()).as_posix()
        run_folder(root, relative)
    except (ValueError, ConfigError):
        return None
    return relative
