"""Each party's operation log: structured, hash-chained, tamper-evident (5.5.1.4a)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medfed.crypto import Suite
from medfed.ledger import OpAction, OperationLog, Outcome, verify_log
from medfed.roles import Role

pytestmark = pytest.mark.clause("5.5.1.4a")


def _log(path: Path | None, suite: Suite, n: int = 5) -> OperationLog:
    log = OperationLog(path, suite, party="hospital-a", role=Role.DATA)
    for i in range(n):
        log.record(
            "login" if i % 2 == 0 else "model.download",
            f"target-{i}",
            Outcome.OK if i != 3 else Outcome.REFUSED,
            details={"i": i},
            when=100.0 + i,
        )
    return log


def _problems(path: Path, suite: Suite) -> list[tuple[int, str]]:
    return [(p.line, p.detail) for p in verify_log(path, suite).problems]


def _rewrite(path: Path, change: object) -> None:
    lines = path.read_bytes().split(b"\n")[:-1]
    lines = change(lines)  # type: ignore[operator]
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def test_each_operation_is_one_json_line_chained_to_the_previous(
    tmp_path: Path, intl: Suite
) -> None:
    path = tmp_path / "ops.log"
    _log(path, intl, 3)
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert len(lines) == 3
    assert set(lines[0]) == {
        "when",
        "who",
        "role",
        "action",
        "target",
        "outcome",
        "details",
        "prev",
        "hash",
    }
    assert lines[0]["prev"] == "00" * intl.digest_size
    assert lines[1]["prev"] == lines[0]["hash"] and lines[2]["prev"] == lines[1]["hash"]
    assert lines[0]["who"] == "hospital-a" and lines[0]["role"] == "data"
    check = verify_log(path, intl)
    assert check.ok and [n for n, _ in check.records] == [1, 2, 3]


def test_reopened_log_continues_its_chain(tmp_path: Path, intl: Suite) -> None:
    path = tmp_path / "ops.log"
    _log(path, intl, 2)
    again = OperationLog(path, intl, party="hospital-a", role=Role.DATA)
    assert again.lines == 2
    again.record("logout", "console", when=200.0)
    assert verify_log(path, intl).ok and again.lines == 3


def test_in_memory_log_and_records_verify_alike(intl: Suite) -> None:
    log = _log(None, intl)
    check = verify_log(log, intl)
    assert check.ok and len(check.records) == 5
    assert verify_log([r for _, r in check.records], intl).ok


def test_flipped_byte_in_a_line_is_located_at_that_line(tmp_path: Path, intl: Suite) -> None:
    path = tmp_path / "ops.log"
    _log(path, intl)
    _rewrite(path, lambda ls: [*ls[:2], ls[2].replace(b"target-2", b"target-7"), *ls[3:]])
    assert _problems(path, intl) == [(3, "the line was altered after it was written")]


def test_refused_outcome_rewritten_as_ok_is_detected(tmp_path: Path, intl: Suite) -> None:
    path = tmp_path / "ops.log"
    _log(path, intl)
    _rewrite(path, lambda ls: [*ls[:3], ls[3].replace(b'"refused"', b'"ok"'), *ls[4:]])
    assert [line for line, _ in _problems(path, intl)] == [4]


def test_deleted_line_is_located_at_the_line_after_the_gap(tmp_path: Path, intl: Suite) -> None:
    path = tmp_path / "ops.log"
    _log(path, intl)
    _rewrite(path, lambda ls: ls[:1] + ls[2:])
    assert [(line, "removed" in d) for line, d in _problems(path, intl)] == [(2, True)]


def test_reordered_lines_are_detected(tmp_path: Path, intl: Suite) -> None:
    path = tmp_path / "ops.log"
    _log(path, intl)
    _rewrite(path, lambda ls: [ls[0], ls[2], ls[1], *ls[3:]])
    assert [line for line, _ in _problems(path, intl)] == [2, 3, 4]


def test_garbage_line_is_reported_and_a_crash_fragment_does_not_stop_the_log(
    tmp_path: Path, intl: Suite
) -> None:
    path = tmp_path / "ops.log"
    _log(path, intl, 2)
    with path.open("ab") as f:
        f.write(b'{"when": 1')  # the process died mid-write
    log = OperationLog(path, intl, party="hospital-a", role=Role.DATA)
    log.record("restart", "node", when=300.0)
    problems = _problems(path, intl)
    assert [line for line, _ in problems] == [3] and "not a log record" in problems[0][1]


def test_helpers_record_what_the_audit_cross_checks(intl: Suite) -> None:
    log = OperationLog(None, intl, party="hospital-a", role=Role.DATA)
    sent = log.record_update_sent("t", round_number=2, update_digest="ab", when=1.0)
    trained = log.record_training("t", dataset_fingerprint="cd", when=2.0)
    assert (sent.action, sent.target, sent.details) == (
        OpAction.UPDATE_SENT,
        "t",
        {"round": 2, "update_digest": "ab"},
    )
    assert (trained.action, trained.details) == (OpAction.TRAIN, {"dataset_fingerprint": "cd"})
    assert log.anchor() == (trained.hash, 2)
