"""One contract for both checkpoint stores: in memory and SQLite (``state.db``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from medfed.dispatcher.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointStore,
    MemoryCheckpointStore,
    SqliteCheckpointStore,
)


def _checkpoint(number: int, *, study: str = "s", value: float | None = None, **extra: object) -> Checkpoint:
    params = {"w": np.full((2, 3), number if value is None else value, np.float32), "n": np.array(7, np.int64)}
    history = [{"round": r, "participants": ["h1", "h2"], "started_at": 0.0} for r in range(1, number + 1)]
    fields: dict = {
        "strategy_state": {"name": "fedavg", "state": {"clip_norm": 0.5 * number}},
        "history": history,
        "rounds": [{"round": r, "metrics": {"val_auc": float("nan")}} for r in range(1, number + 1)],
        "evidence_digest": f"{number:064x}",
    }
    fields.update(extra)
    return Checkpoint(study_id=study, round=number, params=params, **fields)


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], CheckpointStore]]:
    opened: list[CheckpointStore] = []
    memory = MemoryCheckpointStore()

    def make() -> CheckpointStore:
        # Reopening the same file (or the same memory store) stands for a restart.
        store = memory if request.param == "memory" else SqliteCheckpointStore(tmp_path / "state.db")
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_empty_store_has_no_checkpoint(make_store) -> None:
    assert make_store().latest("s") is None


def test_latest_returns_the_last_committed_round_with_every_field(make_store) -> None:
    store = make_store()
    store.save(_checkpoint(1))
    store.save(_checkpoint(2))
    got = make_store().latest("s")
    assert got is not None and got.round == 2
    np.testing.assert_array_equal(got.params["w"], np.full((2, 3), 2, np.float32))
    assert got.params["w"].dtype == np.float32 and got.params["n"].shape == ()
    assert got.strategy_state == {"name": "fedavg", "state": {"clip_norm": 1.0}}
    assert [h["round"] for h in got.history] == [1, 2]
    assert [r["round"] for r in got.rounds] == [1, 2] and np.isnan(got.rounds[0]["metrics"]["val_auc"])
    assert got.evidence_digest == f"{2:064x}" and got.saved_at > 0


def test_studies_are_kept_apart(make_store) -> None:
    store = make_store()
    store.save(_checkpoint(3, study="a"))
    store.save(_checkpoint(1, study="b"))
    assert store.latest("a").round == 3 and store.latest("b").round == 1  # type: ignore[union-attr]
    assert store.latest("c") is None


@pytest.mark.parametrize("number", [1, 2])
def test_a_round_is_committed_once_and_never_before_the_latest(make_store, number: int) -> None:
    store = make_store()
    store.save(_checkpoint(2, value=2.0))
    with pytest.raises(CheckpointError, match="not after the last committed round 2"):
        store.save(_checkpoint(number, value=99.0))
    got = store.latest("s")
    assert got is not None and got.round == 2 and float(got.params["w"][0, 0]) == 2.0


def test_round_zero_is_refused(make_store) -> None:
    with pytest.raises(CheckpointError, match="rounds count from 1"):
        make_store().save(_checkpoint(0))


def test_a_failed_write_leaves_the_previous_checkpoint_intact(make_store) -> None:
    store = make_store()
    store.save(_checkpoint(1))
    broken = _checkpoint(2, strategy_state={"not json": object()})
    with pytest.raises(CheckpointError, match="not JSON-serialisable"):
        store.save(broken)
    got = make_store().latest("s")
    assert got is not None and got.round == 1
    store.save(_checkpoint(2))  # the failed attempt left nothing behind that blocks round 2
    assert make_store().latest("s").round == 2  # type: ignore[union-attr]


def test_saved_arrays_are_a_copy(make_store) -> None:
    store = make_store()
    checkpoint = _checkpoint(1)
    store.save(checkpoint)
    checkpoint.params["w"][:] = 42.0
    assert float(store.latest("s").params["w"][0, 0]) == 1.0  # type: ignore[union-attr]


def test_sqlite_write_interrupted_mid_transaction_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    """A crash between the row and its commit: another connection still reads round 1 only."""
    path = tmp_path / "state.db"
    store = SqliteCheckpointStore(path)
    store.save(_checkpoint(1))
    crashed = sqlite3.connect(path, isolation_level=None)
    crashed.execute("BEGIN IMMEDIATE")
    crashed.execute("INSERT INTO checkpoints (study_id, round, params, body) VALUES ('s', 2, x'00', '{}')")
    crashed.close()  # closing without COMMIT is what a killed process leaves: the journal rolls back
    reopened = SqliteCheckpointStore(path)
    got = reopened.latest("s")
    assert got is not None and got.round == 1
    reopened.save(_checkpoint(2))
    assert reopened.latest("s").round == 2  # type: ignore[union-attr]
    reopened.close()
    store.close()


def test_a_file_that_is_not_a_database_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CheckpointError, match="state.db"):
        SqliteCheckpointStore(path)
