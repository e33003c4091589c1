"""From test outcomes to a clause-by-clause summary (pure; the pytest plugin feeds it).

The summary is the JSON document the plugin writes::

    {"clauses": {"<ID>": {"tests": n, "passed": n, "failed": n, "skipped": n,
                          "test_ids": [...]}},
     "not_covered": [IDs with no test],
     "summary": {"clauses": N, "covered": n, "passed_all": n}}

Every ID of the map is present, in map order.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

from medfed.conformance.clauses import Clause
from medfed.errors import ConfigError


class Outcome(enum.StrEnum):
    """What one test showed. An expected failure (xfail) is FAILED: it proves nothing."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"

    def worst(self, other: Outcome) -> Outcome:
        """Combine the outcomes of two phases of one test: failed > skipped > passed."""
        return max(self, other, key=_RANK.__getitem__)


_RANK = {Outcome.PASSED: 0, Outcome.SKIPPED: 1, Outcome.FAILED: 2}


class ClauseStatus(enum.StrEnum):
    """Where a clause stands after a run."""

    PROVED = "proved"  # at least one test, and every one passed
    FAILING = "failing"  # at least one test failed (or was an expected failure)
    SKIPPED = "skipped"  # tests exist, none failed, but some were skipped
    NOT_COVERED = "not covered"  # no test carries the ID


def clause_status(entry: Mapping[str, Any] | None) -> ClauseStatus:
    """Return the status of one ``clauses[ID]`` entry of the summary (``None``: no entry)."""
    if not entry or not entry.get("tests"):
        return ClauseStatus.NOT_COVERED
    if entry.get("failed"):
        return ClauseStatus.FAILING
    if entry.get("passed") == entry["tests"]:
        return ClauseStatus.PROVED
    return ClauseStatus.SKIPPED


def summarise(
    clauses: Sequence[Clause], results: Mapping[str, tuple[Sequence[str], Outcome]]
) -> dict[str, Any]:
    """Build the summary from ``results``: test id -> (clause IDs it carries, its outcome).

    Raises ``ConfigError`` if a result names an ID that is not in ``clauses``.
    """
    table: dict[str, dict[str, Any]] = {
        c.id: {"tests": 0, "passed": 0, "failed": 0, "skipped": 0, "test_ids": []} for c in clauses
    }
    for test_id, (ids, outcome) in sorted(results.items()):
        for clause_id in dict.fromkeys(ids):  # a repeated ID counts once per test
            if clause_id not in table:
                raise ConfigError(f"{test_id}: unknown clause ID {clause_id!r}")
            entry = table[clause_id]
            entry["tests"] += 1
            entry[outcome.value] += 1
            entry["test_ids"].append(test_id)
    not_covered = [cid for cid, entry in table.items() if entry["tests"] == 0]
    passed_all = sum(clause_status(e) is ClauseStatus.PROVED for e in table.values())
    return {
        "clauses": table,
        "not_covered": not_covered,
        "summary": {
            "clauses": len(table),
            "covered": len(table) - len(not_covered),
            "passed_all": passed_all,
        },
    }
