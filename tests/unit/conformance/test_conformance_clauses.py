"""The clause map parses into clauses, and the packaged copy is the shared one."""

from __future__ import annotations

from pathlib import Path

import pytest

import medfed.conformance
from medfed.conformance import Clause, load_clauses
from medfed.conformance.clauses import packaged_map_text
from medfed.errors import ConfigError

_REPO = Path(__file__).resolve().parents[3]
_SHARED_CANDIDATES = (
    _REPO / "shared" / "spec" / "CLAUSES.md",
    _REPO.parent / "shared" / "spec" / "CLAUSES.md",
)


def test_packaged_map_has_known_ids_as_written() -> None:
    ids = [c.id for c in load_clauses()]
    for known in ("5.5.1.2c", "A.3", "5.4.2.3e-f", "R-notary", "5.4.3.3-1", "A.1", "5.5.2-2"):
        assert known in ids
    assert len(ids) > 80
    assert len(ids) == len(set(ids))


def test_clause_carries_requirement_acceptance_and_section() -> None:
    by_id = {c.id: c for c in load_clauses()}
    assert by_id["5.5.1.2c"] == Clause(
        "5.5.1.2c",
        "right credentials enter, wrong ones never",
        "negative tests for every credential kind",
        "5.5.1.2 Authentication and authorization",
    )
    assert by_id["R-notary"].requirement == "trusted evidence party"
    assert by_id["R-notary"].section.startswith("3 Terms")
    # escaped pipes inside a cell stay in the cell
    assert by_id["A.1"].requirement.endswith("|ΔAUC| < 0.05 and |ΔKS| < 0.05")
    assert by_id["A.1"].acceptance == "automated test and report"


def test_header_and_separator_rows_are_not_clauses() -> None:
    ids = {c.id for c in load_clauses()}
    assert "ID" not in ids
    assert not any(i.startswith("-") for i in ids)


def test_packaged_copy_equals_shared_clause_map() -> None:
    shared = next((p for p in _SHARED_CANDIDATES if p.exists()), None)
    if shared is None:
        pytest.skip("shared/spec/CLAUSES.md is not present in this checkout")
    assert packaged_map_text() == shared.read_text(encoding="utf-8")


def test_load_clauses_reads_a_given_path(tmp_path: Path) -> None:
    path = tmp_path / "map.md"
    path.write_text(
        "# Map\n\n## 9 Extra\n| ID | requirement | acceptance |\n|---|---|---|\n"
        "| 9.1a | do `x` \\| y | shown |\n| 9.1b | do z | tested |\n",
        encoding="utf-8",
    )
    assert load_clauses(path) == [
        Clause("9.1a", "do `x` | y", "shown", "9 Extra"),
        Clause("9.1b", "do z", "tested", "9 Extra"),
    ]


def test_repeated_id_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "map.md"
    path.write_text(
        "| ID | requirement | acceptance |\n|---|---|---|\n| 9.1 | a | b |\n| 9.1 | c | d |\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"map.md:4: clause ID '9.1' repeats line 3"):
        load_clauses(path)


def test_map_without_clauses_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.md"
    path.write_text("# nothing here\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no clause rows"):
        load_clauses(path)


def test_exported_members() -> None:
    assert sorted(medfed.conformance.__all__) == [
        "Clause",
        "ClauseStatus",
        "Outcome",
        "clause_status",
        "load_clauses",
        "render_html",
        "run_conformance",
        "summarise",
    ]
