"""pytest plugin: tag tests with the clauses they prove, and report per clause.

Loaded automatically through the ``pytest11`` entry point ``medfed_conformance``.

* ``@pytest.mark.clause("5.5.1.2c", "A.1")`` marks a test as proving those clauses; the marker
  is registered, so ``--strict-markers`` accepts it.
* At collection every ID is checked against the packaged clause map; an unknown ID turns the
  test's module into a collection error naming the test and the ID (a typo must not silently
  leave a clause unproved).
* ``--conformance-json PATH`` records the outcome of every tagged test and, at session end,
  writes the summary described in :mod:`medfed.conformance.results`. A failure in setup, call
  or teardown counts as failed; an xfail (or xpass) counts as failed, since it proves nothing.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Generator
from pathlib import Path

import pytest

from medfed.conformance.clauses import Clause, load_clauses
from medfed.conformance.results import Outcome, summarise

MARKER = "clause"
_REPORT_ATTR = "clause_ids"  # set on each TestReport; survives pytest-xdist serialisation
_CLAUSES = pytest.StashKey[list[Clause]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("medfed-conformance", "medfed clause conformance")
    group.addoption(
        "--conformance-json",
        metavar="PATH",
        default=None,
        help="write a clause-by-clause conformance summary (JSON) of this run to PATH",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*ids): the test proves these T/SCGS 313007-2024 clause IDs "
        "(see medfed/conformance/clauses.md)",
    )
    path = config.getoption("conformance_json", None)
    # Under pytest-xdist only the controller (no ``workerinput``) sees every report.
    if path and not hasattr(config, "workerinput"):
        out = Path(config.invocation_params.dir, path)
        config.pluginmanager.register(_Recorder(config, out), "medfed-conformance-recorder")


def _clauses(config: pytest.Config) -> list[Clause]:
    if _CLAUSES not in config.stash:
        config.stash[_CLAUSES] = load_clauses()
    return config.stash[_CLAUSES]


def _clause_ids(item: pytest.Item) -> list[str]:
    """All IDs on the item, its class and module, in order, without repeats."""
    ids: dict[str, None] = {}
    for mark in item.iter_markers(MARKER):
        ids.update(dict.fromkeys(mark.args))
    return list(ids)


def _problems(item: pytest.Item, known: set[str]) -> list[str]:
    problems = []
    for mark in item.iter_markers(MARKER):
        if not mark.args:
            problems.append(f"{item.nodeid}: @pytest.mark.{MARKER}() needs at least one ID")
        for clause_id in mark.args:
            if not isinstance(clause_id, str):
                problems.append(f"{item.nodeid}: clause ID {clause_id!r} is not a string")
            elif clause_id not in known:
                hint = _suggestion(clause_id, known)
                problems.append(f"{item.nodeid}: unknown clause ID {clause_id!r}{hint}")
    return problems


def _suggestion(clause_id: str, known: set[str]) -> str:
    """A ' (did you mean ...?)' hint: a case-only slip first, else the closest spelling."""
    same_but_case = [k for k in sorted(known) if k.lower() == clause_id.lower()]
    close = same_but_case or difflib.get_close_matches(clause_id, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    if report.passed and report.result:
        items = [node for node in report.result if isinstance(node, pytest.Item)]
        if any(item.get_closest_marker(MARKER) for item in items):
            known = {c.id for c in _clauses(collector.config)}
            problems = [p for item in items for p in _problems(item, known)]
            if problems:
                report.outcome = "failed"
                report.longrepr = (
                    "clause IDs not in the T/SCGS 313007-2024 clause map "
                    "(medfed/conformance/clauses.md):\n  " + "\n  ".join(problems)
                )
                report.result = []
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    ids = _clause_ids(item)
    if ids:
        setattr(report, _REPORT_ATTR, ids)
    return report


def _phase_outcome(report: pytest.TestReport) -> Outcome | None:
    """What one phase adds to the test's outcome; None when it adds nothing."""
    if hasattr(report, "wasxfail"):
        return Outcome.FAILED
    if report.failed:
        return Outcome.FAILED
    if report.skipped:
        return Outcome.SKIPPED
    if report.passed and report.when == "call":
        return Outcome.PASSED
    return None  # a passing setup/teardown, or a "rerun" report


class _Recorder:
    """Collects the outcome of every tagged test and writes the summary at session end."""

    def __init__(self, config: pytest.Config, path: Path) -> None:
        self._config = config
        self._path = path
        self._results: dict[str, tuple[list[str], Outcome]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        ids = getattr(report, _REPORT_ATTR, None)
        outcome = _phase_outcome(report)
        if not ids or outcome is None:
            return
        previous = self._results.get(report.nodeid)
        if previous is not None:
            outcome = previous[1].worst(outcome)
        self._results[report.nodeid] = (list(ids), outcome)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        data = summarise(_clauses(self._config), self._results)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminalreporter.write_sep("-", f"conformance summary: {self._path}")
