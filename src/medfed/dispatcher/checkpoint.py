"""The dispatcher's round checkpoints (5.4.3.2a-e: a crash must not lose committed work).

After every committed round the dispatcher stores what it needs to carry on from the next
one: the global model (ciphertext when the study encrypts), the strategy's state, the
per-round history that ``results.json`` is built from, and the digest of the round's ledger
entry. Two backends share :class:`CheckpointStore` and one contract test suite: an
in-memory twin and SQLite (``<out>/state.db``), where each save is one transaction, so a
crash mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medfed.core.messages import Arrays
from medfed.core.serde import decode_arrays, encode_arrays
from medfed.errors import MedfedError, ProtocolError

STATE_FILE = "state.db"
KEEP = 2  # checkpoints kept per study: the latest, and the one before it for inspection


class CheckpointError(MedfedError):
    """A checkpoint cannot be written or read (out of order, unreadable, not serialisable)."""

    code = "checkpoint"


@dataclass(frozen=True)
class Checkpoint:
    """Everything needed to resume study ``study_id`` at round ``round + 1``.

    ``history``: the coordinator's record of each committed round; ``rounds``: the runtime's
    per-round entries (traffic, metrics) that become ``results.json``; both JSON-able.
    """

    study_id: str
    round: int
    params: Arrays
    strategy_state: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    evidence_digest: str = ""
    saved_at: float = 0.0


def _json(value: object, what: str) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {what} is not JSON-serialisable: {exc}") from None


class CheckpointStore(ABC):
    """Committed-round checkpoints, at most one per (study, round), rounds strictly increasing."""

    @abstractmethod
    def _latest_round(self, study_id: str) -> int | None: ...

    @abstractmethod
    def _write(self, checkpoint: Checkpoint) -> None: ...

    @abstractmethod
    def latest(self, study_id: str) -> Checkpoint | None:
        """The checkpoint of the last committed round of ``study_id``, or None."""

    def save(self, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint``; CheckpointError (and nothing stored) if it is not after the latest."""
        if checkpoint.round < 1:
            raise CheckpointError(f"round {checkpoint.round} cannot be committed (rounds count from 1)")
        last = self._latest_round(checkpoint.study_id)
        if last is not None and checkpoint.round <= last:
            raise CheckpointError(
                f"study {checkpoint.study_id}: round {checkpoint.round} is not after the last "
                f"committed round {last}; a round is committed once"
            )
        self._write(checkpoint)

    @abstractmethod
    def close(self) -> None:
        """Release the backend."""


class MemoryCheckpointStore(CheckpointStore):
    """The in-memory twin: same contract, nothing on disk (simulation, tests)."""

    def __init__(self) -> None:
        self._by_study: dict[str, list[tuple[int, bytes, str]]] = {}

    def _latest_round(self, study_id: str) -> int | None:
        rows = self._by_study.get(study_id)
        return rows[-1][0] if rows else None

    def _write(self, checkpoint: Checkpoint) -> None:
        # Serialised like the SQL backend, so a caller mutating its arrays later changes nothing here.
        blob = encode_arrays(checkpoint.params)
        body = _json(_body(checkpoint), "state")
        rows = self._by_study.setdefault(checkpoint.study_id, [])
        rows.append((checkpoint.round, blob, body))
        del rows[:-KEEP]

    def latest(self, study_id: str) -> Checkpoint | None:
        rows = self._by_study.get(study_id)
        if not rows:
            return None
        number, blob, body = rows[-1]
        return _checkpoint(study_id, number, blob, body)

    def close(self) -> None:
        return None  # nothing to release in memory


class SqliteCheckpointStore(CheckpointStore):
    """Checkpoints in one SQLite file; every save is a single transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a committed round survives power loss
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS checkpoints ("
                " study_id TEXT NOT NULL, round INTEGER NOT NULL, params BLOB NOT NULL,"
                " body TEXT NOT NULL, PRIMARY KEY (study_id, round))"
            )
        except sqlite3.DatabaseError as exc:
            raise CheckpointError(f"{self.path} is not a usable checkpoint store: {exc}") from None

    def _latest_round(self, study_id: str) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT MAX(round) FROM checkpoints WHERE study_id = ?", (study_id,)
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def _write(self, checkpoint: Checkpoint) -> None:
        blob = encode_arrays(checkpoint.params)
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "INSERT INTO checkpoints (study_id, round, params, body) VALUES (?, ?, ?, ?)",
                    (checkpoint.study_id, checkpoint.round, blob, "{}"),
                )
                # Serialised inside the transaction: a failure here rolls the row back too.
                self._db.execute(
                    "UPDATE checkpoints SET body = ? WHERE study_id = ? AND round = ?",
                    (_json(_body(checkpoint), "state"), checkpoint.study_id, checkpoint.round),
                )
                self._db.execute(
                    "DELETE FROM checkpoints WHERE study_id = ? AND round <= ?",
                    (checkpoint.study_id, checkpoint.round - KEEP),
                )
                self._db.execute("COMMIT")
            except BaseException as exc:
                self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.DatabaseError):
                    raise CheckpointError(f"could not write the checkpoint to {self.path}: {exc}") from None
                raise

    def latest(self, study_id: str) -> Checkpoint | None:
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT round, params, body FROM checkpoints WHERE study_id = ? ORDER BY round DESC LIMIT 1",
                    (study_id,),
                ).fetchone()
            except sqlite3.DatabaseError as exc:
                raise CheckpointError(f"could not read {self.path}: {exc}") from None
        if row is None:
            return None
        return _checkpoint(study_id, int(row[0]), bytes(row[1]), str(row[2]))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _body(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "strategy_state": checkpoint.strategy_state,
        "history": checkpoint.history,
        "rounds": checkpoint.rounds,
        "evidence_digest": checkpoint.evidence_digest,
        "saved_at": checkpoint.saved_at or time.time(),
    }


def _checkpoint(study_id: str, number: int, blob: bytes, body: str) -> Checkpoint:
    try:
        params = decode_arrays(blob)
        raw = json.loads(body)
        return Checkpoint(
            study_id=study_id,
            round=number,
            params=params,
            strategy_state=dict(raw["strategy_state"]),
            history=list(raw["history"]),
            rounds=list(raw["rounds"]),
            evidence_digest=str(raw["evidence_digest"]),
            saved_at=float(raw["saved_at"]),
        )
    except (ProtocolError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint of {study_id} round {number} is unreadable: {exc}") from None
