"""The clause map of T/SCGS 313007-2024 as data.

The map is the markdown file ``clauses.md`` shipped inside this package (a verbatim copy of
``shared/spec/CLAUSES.md``). Every table row of it names one requirement by ID: the roles of
section 3 (``R-initiator`` …), the clauses of sections 5.2–5.7 and Appendix A. IDs are kept
exactly as written (``"5.4.2.3e-f"``, ``"5.4.3.3-1"``, ``"A.1"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from medfed.errors import ConfigError

_PACKAGED_NAME = "clauses.md"
# A separator row of a markdown table: |---|:--:|---|
_SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")
# An ID is one token: "R-notary", "5.2a", "5.4.2.3e-f", "A.3", "5.5.2-2".
_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.\-]*$")
# Cells are split on pipes that are not escaped as "\|".
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


@dataclass(frozen=True)
class Clause:
    """One requirement of the standard.

    ``requirement`` and ``acceptance`` are the second and third cells of the row as written
    (for a role: its name and what it is in medfed); ``section`` is the heading the table sits
    under, e.g. ``"5.5.1.2 Authentication and authorization"``.
    """

    id: str
    requirement: str
    acceptance: str
    section: str


def packaged_map_text() -> str:
    """Return the text of the clause map shipped inside the package."""
    return resources.files(__package__).joinpath(_PACKAGED_NAME).read_text(encoding="utf-8")


def load_clauses(path: Path | None = None) -> list[Clause]:
    """Parse the clause map at ``path`` (default: the packaged copy) into clauses, in map order.

    Raises ``ConfigError`` naming the line when an ID is malformed or repeated, or when the
    map holds no clause at all.
    """
    if path is None:
        return _parse(packaged_map_text(), source=_PACKAGED_NAME)
    return _parse(Path(path).read_text(encoding="utf-8"), source=str(path))


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner[1:]
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(inner)]


def _parse(text: str, *, source: str) -> list[Clause]:
    lines = text.splitlines()
    clauses: list[Clause] = []
    seen: dict[str, int] = {}
    section = ""
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            section = stripped.lstrip("#").strip()
            continue
        if not stripped.startswith("|") or _SEPARATOR.match(stripped):
            continue
        # The header row is the one directly above the separator row.
        following = lines[number].strip() if number < len(lines) else ""
        if _SEPARATOR.match(following):
            continue
        cells = _cells(stripped)
        if len(cells) < 3:
            raise ConfigError(f"{source}:{number}: table row has {len(cells)} cells, need 3")
        clause_id, requirement, acceptance = cells[0], cells[1], cells[2]
        if not _ID.match(clause_id):
            raise ConfigError(f"{source}:{number}: {clause_id!r} is not a clause ID")
        if clause_id in seen:
            raise ConfigError(
                f"{source}:{number}: clause ID {clause_id!r} repeats line {seen[clause_id]}"
            )
        seen[clause_id] = number
        clauses.append(Clause(clause_id, requirement, acceptance, section))
    if not clauses:
        raise ConfigError(f"{source}: no clause rows found")
    return clauses
