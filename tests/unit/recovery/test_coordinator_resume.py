"""A coordinator restored from a round checkpoint carries on exactly where the study was."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from medfed.aggregation import FedAvg
from medfed.aggregation.client_dp import AdaptiveClipping, ClientLevelDP
from medfed.aggregation.strategy import Strategy
from medfed.core import serde
from medfed.core.messages import NodeUpdate, StudyEnd, TrainTask
from medfed.dispatcher.checkpoint import Checkpoint, CheckpointError, MemoryCheckpointStore
from medfed.dispatcher.coordinator import (
    Coordinator,
    Phase,
    RoundClosed,
    Send,
    StudyFinished,
    StudyPlan,
)
from medfed.dispatcher.runtime import DispatcherRuntime

NODES = ("h1", "h2", "h3")


def _coordinator(strategy: Strategy | None = None, *, rounds: int = 4) -> Coordinator:
    plan = StudyPlan("s", rounds, NODES, 2, {"lr": 0.1}, round_timeout=60, join_timeout=30)
    return Coordinator(plan, strategy or FedAvg(), {"w": np.zeros(4, np.float32)}, now=0.0)


def _update(node: str, rnd: int, global_w: np.ndarray, metrics: dict | None = None) -> NodeUpdate:
    # A deterministic "training step" that depends on the node, the round and the model it got.
    step = np.float32(0.01) * (NODES.index(node) + 1) * rnd
    return NodeUpdate("s", rnd, node, {"w": (global_w + step).astype(np.float32)}, 10 + NODES.index(node), 0.1, metrics or {})


def _tasks(actions: list) -> dict[str, TrainTask]:
    return {a.node: a.message for a in actions if isinstance(a, Send) and isinstance(a.message, TrainTask)}


def _play_round(c: Coordinator, actions: list, metrics: dict | None = None) -> list:
    tasks = _tasks(actions)
    out: list = []
    for node, task in sorted(tasks.items()):
        ack, more = c.update_received(_update(node, task.round, task.params["w"], metrics), now=2.0)
        assert ack.accepted, ack.message
        out += more
    return out


def _join(c: Coordinator) -> list:
    actions: list = []
    for node in NODES:
        actions += c.node_joined(node, now=1.0)
    return actions


def _committed(actions: list) -> Checkpoint:
    closed = [a for a in actions if isinstance(a, RoundClosed)]
    assert closed and closed[-1].committed is not None
    return closed[-1].committed


@pytest.mark.clause("5.4.3.2b")
def test_restored_coordinator_resumes_at_the_next_round_with_the_same_model_bytes() -> None:
    reference = _coordinator()
    actions = _join(reference)
    actions = _play_round(reference, actions)
    actions = _play_round(reference, actions)
    saved = _committed(actions)
    assert saved.round == 2 and [h["round"] for h in saved.history] == [1, 2]
    # The reference study goes on without a crash; the restored one must follow it bit for bit.
    restored = _coordinator()
    restored.resume(saved)
    assert restored.resumed_from == 2 and restored.phase is Phase.WAITING
    actions_r = _join(restored)
    resumed_tasks = _tasks(actions_r)
    assert {t.round for t in resumed_tasks.values()} == {3} and sorted(resumed_tasks) == list(NODES)
    for task in resumed_tasks.values():
        assert task.params["w"].tobytes() == reference.global_params["w"].tobytes()
    for _ in range(2):  # rounds 3 and 4 on both
        actions_r = _play_round(restored, actions_r)
        actions = _play_round(reference, actions)
    assert restored.phase is Phase.DONE and reference.phase is Phase.DONE
    assert restored.global_params["w"].tobytes() == reference.global_params["w"].tobytes()
    assert [r.round for r in restored.history] == [1, 2, 3, 4]  # each round once


def test_round_open_at_the_crash_is_rerun_not_double_counted() -> None:
    c = _coordinator()
    saved = _committed(_play_round(c, _join(c)))
    # Round 2 was open with one update in when the dispatcher died; the checkpoint knows round 1 only.
    c.update_received(_update("h1", 2, c.global_params["w"]), now=3.0)
    restored = _coordinator()
    restored.resume(saved)
    joined = _join(restored)
    tasks = _tasks(joined)
    assert {t.round for t in tasks.values()} == {2} and sorted(tasks) == list(NODES)
    stale = restored.update_received(_update("h1", 1, saved.params["w"]), now=4.0)[0]
    assert not stale.accepted and "open is s round 2" in stale.message
    _play_round(restored, joined)
    assert [r.round for r in restored.history] == [1, 2]


def test_adaptive_clipping_state_survives_the_restart() -> None:
    def strategy() -> ClientLevelDP:
        return ClientLevelDP(
            FedAvg(), noise_multiplier=1.0, clip_norm=1.0, delta=1e-5,
            gaussian=lambda shape, sigma: np.zeros(shape), adaptive=AdaptiveClipping(count_noise=1.0),
        )

    c = _coordinator(strategy())
    saved = _committed(_play_round(c, _join(c), metrics={"unclipped": 1.0}))
    moved = c.strategy.clip_norm  # type: ignore[attr-defined]
    assert moved != 1.0
    restored = _coordinator(strategy())
    restored.resume(saved)
    assert restored.strategy.clip_norm == moved  # type: ignore[attr-defined]
    assert restored.strategy.clip_history == [1.0, moved]  # type: ignore[attr-defined]
    tasks = _tasks(_join(restored))
    assert all(t.config["clip_norm"] == moved for t in tasks.values())


def test_a_finished_study_resumes_as_finished_and_tells_joining_nodes() -> None:
    c = _coordinator(rounds=1)
    actions = _play_round(c, _join(c))
    assert any(isinstance(a, StudyFinished) and a.ok for a in actions)
    restored = _coordinator(rounds=1)
    restored.resume(_committed(actions))
    assert restored.phase is Phase.DONE
    (end,) = restored.node_joined("h1", now=1.0)
    assert isinstance(end, Send) and isinstance(end.message, StudyEnd) and end.message.ok


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"study_id": "other"}, "for study 'other'"),
        ({"params": {"w": np.zeros(5, np.float32)}}, "does not fit the study's model"),
        ({"strategy_state": {"name": "krum", "state": {}}}, "strategy state cannot be restored"),
        ({"history": []}, "holds 0 round record"),
    ],
)
def test_a_checkpoint_that_does_not_fit_the_study_is_refused(change: dict, match: str) -> None:
    c = _coordinator()
    saved = _committed(_play_round(c, _join(c)))
    with pytest.raises(CheckpointError, match=match):
        _coordinator().resume(dataclasses.replace(saved, **change))


def test_runtime_checkpoints_every_committed_round_and_a_new_runtime_resumes_from_it() -> None:
    store = MemoryCheckpointStore()
    sent: list[tuple[str, bytes]] = []
    runtime = DispatcherRuntime(_coordinator(), lambda n, f: sent.append((n, f)), checkpoints=store)
    for node in NODES:
        runtime.join(node)
    for _ in range(2):
        tasks = {n: serde.decode(f) for n, f in sent if serde.header_of(f)["type"] == "train_task"}
        sent.clear()
        for node, task in sorted(tasks.items()):
            assert isinstance(task, TrainTask)
            reply = runtime.submit(node, serde.encode(_update(node, task.round, task.params["w"])))
            assert serde.decode(reply).accepted  # type: ignore[union-attr]
    saved = store.latest("s")
    assert saved is not None and saved.round == 2 and [r["round"] for r in saved.rounds] == [1, 2]
    assert saved.params["w"].tobytes() == runtime.coordinator.global_params["w"].tobytes()
    restarted = DispatcherRuntime(_coordinator(), lambda n, f: sent.append((n, f)), checkpoints=store)
    restarted.resume(saved)
    assert [r["round"] for r in restarted.summary()["rounds"]] == [1, 2]
    with pytest.raises(CheckpointError, match="not after the last committed round"):
        store.save(saved)  # the same round cannot be committed twice
