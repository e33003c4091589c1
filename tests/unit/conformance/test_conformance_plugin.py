"""The pytest plugin, exercised on tiny inner test suites through ``pytester``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medfed.conformance import load_clauses

pytest_plugins = ["pytester"]

_SUITE = """
import pytest

@pytest.mark.clause("5.5.1.2c")
def test_right_credentials_enter():
    pass

@pytest.mark.clause("5.5.1.2c", "A.1")
def test_broken():
    assert False

def test_untagged():
    pass
"""


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    out = pytester.path / "out" / "conformance.json"
    result = pytester.runpytest("-p", "medfed.conformance.plugin", "--strict-markers", "--conformance-json", str(out), *args)
    return result, json.loads(out.read_text(encoding="utf-8"))


def test_json_counts_each_clause_exactly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=_SUITE)
    result, data = _run(pytester)
    result.assert_outcomes(passed=2, failed=1)

    n = len(load_clauses())
    assert data["clauses"]["5.5.1.2c"] == {
        "tests": 2,
        "passed": 1,
        "failed": 1,
        "skipped": 0,
        "test_ids": ["test_suite.py::test_broken", "test_suite.py::test_right_credentials_enter"],
    }
    assert data["clauses"]["A.1"] == {
        "tests": 1,
        "passed": 0,
        "failed": 1,
        "skipped": 0,
        "test_ids": ["test_suite.py::test_broken"],
    }
    assert data["clauses"]["A.3"] == {
        "tests": 0,
        "passed": 0,
        "failed": 0,
        "skipped": 0,
        "test_ids": [],
    }
    assert list(data["clauses"]) == [c.id for c in load_clauses()]
    assert "A.3" in data["not_covered"]
    assert "5.5.1.2c" not in data["not_covered"] and "A.1" not in data["not_covered"]
    assert len(data["not_covered"]) == n - 2
    assert data["summary"] == {"clauses": n, "covered": 2, "passed_all": 0}


def test_setup_error_skip_and_xfail_do_not_count_as_passed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_more="""
        import pytest

        @pytest.fixture
        def broken():
            raise RuntimeError("no fixture")

        @pytest.mark.clause("5.2a")
        def test_setup_fails(broken):
            pass

        @pytest.mark.clause("5.2b")
        @pytest.mark.skip(reason="not today")
        def test_skipped():
            pass

        @pytest.mark.clause("5.2c")
        @pytest.mark.xfail(reason="known gap")
        def test_xfail():
            assert False

        @pytest.mark.clause("5.2d")
        class TestClassMark:
            def test_one(self):
                pass

            @pytest.mark.clause("5.2e", "5.2d")
            def test_two(self):
                pass
        """
    )
    result, data = _run(pytester)
    result.assert_outcomes(passed=2, skipped=1, xfailed=1, errors=1)
    counts = {
        cid: {k: e[k] for k in ("tests", "passed", "failed", "skipped")}
        for cid, e in data["clauses"].items()
        if e["tests"]
    }
    assert counts == {
        "5.2a": {"tests": 1, "passed": 0, "failed": 1, "skipped": 0},
        "5.2b": {"tests": 1, "passed": 0, "failed": 0, "skipped": 1},
        "5.2c": {"tests": 1, "passed": 0, "failed": 1, "skipped": 0},
        "5.2d": {"tests": 2, "passed": 2, "failed": 0, "skipped": 0},
        "5.2e": {"tests": 1, "passed": 1, "failed": 0, "skipped": 0},
    }
    assert data["summary"]["covered"] == 5
    assert data["summary"]["passed_all"] == 2


def test_unknown_clause_id_is_a_collection_error_naming_test_and_id(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_typo="""
        import pytest

        @pytest.mark.clause("5.5.1.2c", "9.9.9")
        def test_with_typo():
            pass
        """
    )
    result = pytester.runpytest("-p", "medfed.conformance.plugin", "--strict-markers")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting test_typo.py*",
            "*test_typo.py::test_with_typo: unknown clause ID '9.9.9'*",
        ]
    )
    result.assert_outcomes(errors=1)


def test_near_miss_id_suggests_the_right_one(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_case="""
        import pytest

        @pytest.mark.clause("5.5.1.2C")
        def test_case_typo():
            pass
        """
    )
    result = pytester.runpytest("-p", "medfed.conformance.plugin")
    result.stdout.fnmatch_lines(["*unknown clause ID '5.5.1.2C' (did you mean '5.5.1.2c'?)*"])


def test_marker_is_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("-p", "medfed.conformance.plugin", "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.clause(*ids):*"])


def test_without_the_option_no_json_is_written(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=_SUITE)
    result = pytester.runpytest("-p", "medfed.conformance.plugin", "--strict-markers")
    result.assert_outcomes(passed=2, failed=1)
    assert not list(Path(pytester.path).rglob("*.json"))
