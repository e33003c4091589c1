"""Clause-by-clause conformance to T/SCGS 313007-2024, proved by the test run itself.

Tests carry ``@pytest.mark.clause("<ID>", ...)``; the pytest plugin (``plugin.py``, loaded
through the ``pytest11`` entry point) checks the IDs against the packaged clause map
(``clauses.md``) and, with ``--conformance-json PATH``, writes a per-clause summary that
``render_html`` turns into a page. ``run_conformance`` does both from one real test run.

The plugin is the only module that imports pytest; it is not re-exported here.
"""

from medfed.conformance.clauses import Clause, load_clauses
from medfed.conformance.report import render_html
from medfed.conformance.results import ClauseStatus, Outcome, clause_status, summarise
from medfed.conformance.runner import run_conformance

__all__ = [
    "Clause",
    "ClauseStatus",
    "Outcome",
    "clause_status",
    "load_clauses",
    "render_html",
    "run_conformance",
    "summarise",
]
