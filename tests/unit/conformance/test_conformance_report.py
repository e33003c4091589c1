"""The summary builder, the HTML page and the subprocess runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medfed.conformance import (
    Clause,
    ClauseStatus,
    Outcome,
    clause_status,
    load_clauses,
    render_html,
    run_conformance,
    summarise,
)
from medfed.errors import ConfigError

_CLAUSES = [
    Clause("X.1", "keep <script>alert('x')</script> & co out", "escaped", "X <Section>"),
    Clause("X.2", "**bold** requirement", "shown", "X <Section>"),
    Clause("Y.1", "never tested", "nothing", "Y"),
]


def test_summarise_counts_every_clause_once_per_test() -> None:
    data = summarise(
        _CLAUSES,
        {
            "t.py::a": (["X.1", "X.1"], Outcome.PASSED),
            "t.py::b": (["X.1", "X.2"], Outcome.SKIPPED),
        },
    )
    assert data["clauses"]["X.1"] == {
        "tests": 2,
        "passed": 1,
        "failed": 0,
        "skipped": 1,
        "test_ids": ["t.py::a", "t.py::b"],
    }
    assert data["not_covered"] == ["Y.1"]
    assert data["summary"] == {"clauses": 3, "covered": 2, "passed_all": 0}


def test_summarise_refuses_an_unknown_id() -> None:
    with pytest.raises(ConfigError, match="'Z.9'"):
        summarise(_CLAUSES, {"t.py::a": (["Z.9"], Outcome.PASSED)})


def test_status_of_each_entry() -> None:
    assert clause_status(None) is ClauseStatus.NOT_COVERED
    assert clause_status({"tests": 0}) is ClauseStatus.NOT_COVERED
    assert clause_status({"tests": 2, "passed": 2, "failed": 0}) is ClauseStatus.PROVED
    assert clause_status({"tests": 2, "passed": 1, "failed": 1}) is ClauseStatus.FAILING
    assert clause_status({"tests": 2, "passed": 1, "failed": 0}) is ClauseStatus.SKIPPED


def test_outcome_worst_prefers_failure() -> None:
    assert Outcome.PASSED.worst(Outcome.FAILED) is Outcome.FAILED
    assert Outcome.SKIPPED.worst(Outcome.PASSED) is Outcome.SKIPPED


def test_html_escapes_text_and_marks_uncovered_clauses() -> None:
    data = summarise(
        _CLAUSES,
        {"t.py::test_<a>": (["X.1"], Outcome.PASSED), "t.py::b": (["X.2"], Outcome.FAILED)},
    )
    page = render_html(data, _CLAUSES)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in page
    assert "<h2>X &lt;Section&gt;</h2>" in page
    assert "t.py::test_&lt;a&gt;" in page
    assert "<strong>bold</strong> requirement" in page
    rows = {
        line.split("<td>")[1].split("</td>")[0]: line
        for line in page.splitlines()
        if line.startswith("<tr class=")
    }
    assert rows["X.1"].endswith("<td>proved</td></tr>")
    assert rows["X.2"].endswith("<td>failing</td></tr>")
    assert rows["Y.1"].endswith("<td>not covered</td></tr>")
    assert page.count("<table>") == 2
    assert "http" not in page.replace('lang="en"', "")  # self-contained: no external links


def test_html_of_the_real_map_lists_every_section() -> None:
    clauses = load_clauses()
    page = render_html({"clauses": {}}, clauses)
    assert page.count("<td>not covered</td>") == len(clauses)
    assert page.count("<table>") == len({c.section for c in clauses})


def test_run_conformance_writes_json_and_html_from_a_real_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "suite" / "test_inner.py"
    suite.parent.mkdir()
    suite.write_text(
        "import pytest\n\n@pytest.mark.clause('A.2')\ndef test_timed():\n    pass\n",
        encoding="utf-8",
    )
    json_path = tmp_path / "out" / "c.json"
    html_path = tmp_path / "out" / "c.html"
    code = run_conformance(
        json_path,
        html_path,
        [str(suite), "-q", "-p", "no:cacheprovider", "--rootdir", str(suite.parent)],
    )
    assert code == 0
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["clauses"]["A.2"]["passed"] == 1
    page = html_path.read_text(encoding="utf-8")
    assert "<td>proved</td>" in page and "<td>not covered</td>" in page
    out = capsys.readouterr().out
    assert f"conformance JSON: {json_path}" in out
    assert f"conformance HTML: {html_path}" in out


def test_run_conformance_returns_pytest_code_when_no_json(tmp_path: Path) -> None:
    json_path = tmp_path / "c.json"
    json_path.write_text("{}", encoding="utf-8")  # stale file from an earlier run
    code = run_conformance(json_path, None, ["--no-such-option"])
    assert code == pytest.ExitCode.USAGE_ERROR
    assert not json_path.exists()
