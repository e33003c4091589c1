"""Each party's own operation log (standard 5.5.1.4a): one hash-chained JSON line per operation.

A line is the canonical JSON of ``{when, who, role, action, target, outcome, details, prev,
hash}``: ``hash`` is the suite digest of the line's other fields, ``prev`` the previous
line's ``hash`` (all zeros for the first). Editing a line breaks its own hash; removing or
reordering lines breaks the next line's ``prev``. Removing lines at the *end* leaves a valid
shorter chain: anchor the log in the ledger now and then (``EntryBuilder.log_anchor`` with
:meth:`OperationLog.anchor`) and keep receipts in it, and the audit catches that too.

Three actions are read by the audit's cross-check, so log them with the helpers:
:meth:`~OperationLog.record_submission`, :meth:`~OperationLog.record_update_sent` and
:meth:`~OperationLog.record_training`. Any other action is free text ("login",
"grant.decide", "model.download", ...).
"""

from __future__ import annotations

import enum
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from medfed.crypto import Suite
from medfed.ledger._canonical import canonical_json, genesis_hash, parse_object
from medfed.ledger.builder import SignedRequest
from medfed.ledger.errors import EntryRejectedError
from medfed.ledger.notary import Receipt
from medfed.roles import Role


class Outcome(enum.StrEnum):
    OK = "ok"
    REFUSED = "refused"
    FAILED = "failed"


class OpAction(enum.StrEnum):
    """Actions the audit cross-checks against the ledger (target: the task id)."""

    LEDGER_SUBMIT = "ledger.submit"  # details: kind, sequence, entry_hash, receipt_signature
    UPDATE_SENT = "update.sent"  # details: round, update_digest
    TRAIN = "train"  # details: dataset_fingerprint


@dataclass(frozen=True)
class OperationRecord:
    """One line of an operation log. Treat ``details`` as read-only."""

    when: float
    who: str
    role: str
    action: str
    target: str
    outcome: Outcome
    details: dict[str, Any] = field(hash=False)
    prev: str
    hash: str

    def fields(self) -> dict[str, Any]:
        """Every field but ``hash``: what ``hash`` is the digest of."""
        return {
            "when": self.when,
            "who": self.who,
            "role": self.role,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome.value,
            "details": self.details,
            "prev": self.prev,
        }

    def compute_hash(self, suite: Suite) -> str:
        return suite.digest(canonical_json(self.fields())).hex()

    def line(self) -> bytes:
        """The line as written (without the newline)."""
        return canonical_json({**self.fields(), "hash": self.hash})

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> OperationRecord:
        try:
            return cls(
                when=float(raw["when"]),
                who=str(raw["who"]),
                role=str(raw["role"]),
                action=str(raw["action"]),
                target=str(raw["target"]),
                outcome=Outcome(raw["outcome"]),
                details=dict(raw["details"]),
                prev=str(raw["prev"]),
                hash=str(raw["hash"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EntryRejectedError(f"not an operation record: {exc}") from None


class OperationLog:
    """Appends hash-chained lines to a file (or, with ``path=None``, to memory).

    Reopening an existing file continues its chain. ``fsync=True`` forces each line to disk
    before returning (slower; for logs that must survive a power loss).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        suite: Suite,
        *,
        party: str,
        role: Role,
        fsync: bool = False,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.suite = suite
        self.party = party
        self.role = Role(role)
        self._fsync = fsync
        self._lock = threading.Lock()
        self._memory: list[bytes] = []
        self._head = genesis_hash(suite.digest_size)
        self._count = 0
        if self.path is not None and self.path.exists():
            self._resume(self.path)

    def _resume(self, path: Path) -> None:
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            # A crash mid-write left a fragment: end it, so the reader reports it as one bad
            # line instead of the next record being glued onto it.
            with path.open("ab") as f:
                f.write(b"\n")
        lines = [line for line in data.split(b"\n") if line]
        self._count = len(lines)
        # Continue from the last readable record; the reader reports any unreadable line
        # and does not judge the link that follows it.
        for line in reversed(lines):
            try:
                self._head = str(parse_object(line, "log line")["hash"])
                return
            except (ValueError, KeyError):
                continue

    @property
    def lines(self) -> int:
        return self._count

    def anchor(self) -> tuple[str, int]:
        """``(hash of the last line, number of lines)``: what a LOG_ANCHOR entry records."""
        with self._lock:
            return self._head, self._count

    def record(
        self,
        action: str,
        target: str,
        outcome: Outcome = Outcome.OK,
        *,
        details: Mapping[str, Any] | None = None,
        when: float | None = None,
        role: Role | None = None,
    ) -> OperationRecord:
        """Append one operation; ``when`` defaults to now (Unix seconds)."""
        with self._lock:
            unhashed = OperationRecord(
                when=float(time.time() if when is None else when),
                who=self.party,
                role=Role(role or self.role).value,
                action=str(action),
                target=target,
                outcome=Outcome(outcome),
                details=dict(details or {}),
                prev=self._head,
                hash="",
            )
            record = replace(unhashed, hash=unhashed.compute_hash(self.suite))
            self._write(record.line())
            self._head = record.hash
            self._count += 1
            return record

    def _write(self, line: bytes) -> None:
        if self.path is None:
            self._memory.append(line)
            return
        # Opened per line, so nothing waits in a buffer if the process dies; each line goes
        # down in a single append.
        with self.path.open("ab") as f:
            f.write(line + b"\n")
            f.flush()
            if self._fsync:
                os.fsync(f.fileno())

    def record_submission(
        self, signed: SignedRequest, receipt: Receipt, *, when: float | None = None
    ) -> OperationRecord:
        """Keep the notary's receipt for an entry this party submitted."""
        details = {"kind": signed.request.kind.value, **receipt.to_dict()}
        details["receipt_signature"] = details.pop("signature")
        return self.record(
            OpAction.LEDGER_SUBMIT, signed.request.task_id, details=details, when=when
        )

    def record_update_sent(
        self, task_id: str, *, round_number: int, update_digest: str, when: float | None = None,
        confirmed: bool = True,
    ) -> OperationRecord:
        """This node sent its update for a round; ``update_digest`` as the ROUND entry records it.

        ``confirmed=False``: the connection broke before the dispatcher acknowledged it (outcome
        ``failed``): it may or may not have arrived, so the audit accepts either."""
        details = {"round": round_number, "update_digest": update_digest}
        outcome = Outcome.OK if confirmed else Outcome.FAILED
        return self.record(OpAction.UPDATE_SENT, task_id, outcome, details=details, when=when)

    def record_training(
        self, task_id: str, *, dataset_fingerprint: str, when: float | None = None
    ) -> OperationRecord:
        """This node trained on the dataset with this fingerprint."""
        details = {"dataset_fingerprint": dataset_fingerprint}
        return self.record(OpAction.TRAIN, task_id, details=details, when=when)

    def raw_lines(self) -> list[bytes]:
        """Every line as stored (without newlines)."""
        with self._lock:
            if self.path is None:
                return list(self._memory)
            if not self.path.exists():
                return []
            return [line for line in self.path.read_bytes().split(b"\n") if line]


@dataclass(frozen=True)
class LogProblem:
    """Something wrong at ``line`` (1-based) of a log."""

    line: int
    detail: str


@dataclass(frozen=True)
class LogCheck:
    """A log as read: its records (readable lines only) and what is wrong with it."""

    records: tuple[tuple[int, OperationRecord], ...]
    problems: tuple[LogProblem, ...]
    line_hashes: tuple[str, ...]  # the stored ``hash`` of each line, "" if unreadable

    @property
    def ok(self) -> bool:
        return not self.problems


LogSource = str | os.PathLike[str] | OperationLog | Iterable[OperationRecord]


def _lines_of(source: LogSource) -> list[bytes]:
    if isinstance(source, OperationLog):
        return source.raw_lines()
    if isinstance(source, str | os.PathLike):
        return [line for line in Path(source).read_bytes().split(b"\n") if line]
    return [record.line() for record in source]


def verify_log(source: LogSource, suite: Suite) -> LogCheck:
    """Read a log (a path, an :class:`OperationLog`, or records) and check its chain."""
    records: list[tuple[int, OperationRecord]] = []
    problems: list[LogProblem] = []
    hashes: list[str] = []
    prev = genesis_hash(suite.digest_size)
    for n, raw in enumerate(_lines_of(source), start=1):
        try:
            record = OperationRecord.from_dict(parse_object(raw, "log line"))
        except (ValueError, EntryRejectedError) as exc:
            problems.append(LogProblem(n, f"not a log record ({exc})"))
            hashes.append("")
            prev = ""  # unknown: the next line's link cannot be judged
            continue
        if record.hash != record.compute_hash(suite):
            problems.append(LogProblem(n, "the line was altered after it was written"))
        if prev and record.prev != prev:
            problems.append(
                LogProblem(n, "the chain breaks here: a line before it was removed or reordered")
            )
        records.append((n, record))
        hashes.append(record.hash)
        prev = record.hash
    return LogCheck(tuple(records), tuple(problems), tuple(hashes))
