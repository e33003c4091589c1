"""The node's handling of one task, without any transport."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medfed.core import serde
from medfed.core.messages import DECLARED_METRICS, NodeFailure, NodeUpdate, StudyEnd, TrainTask
from medfed.data import LocalDataset, Split
from medfed.errors import DataError
from medfed.models import build_model, model_arrays
from medfed.node.runner import respond
from medfed.node.worker import NodeWorker

CONFIG = {
    "model": "cnn2d", "in_channels": 1, "n_classes": 2, "dims": 2, "image_size": 28,
    "epochs": 1, "batch_size": 16, "optimizer": "adam", "lr": 1e-3, "proximal_mu": 0.0, "seed": 0,
}


@pytest.fixture
def worker() -> NodeWorker:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(48, 28, 28), dtype=np.uint8)
    labels = np.tile([0, 1], 24).astype(np.int64)
    dataset = LocalDataset(
        flag="pneumoniamnist", size=28, train=Split(images[:40], labels[:40]),
        val=Split(images[40:], labels[40:]), n_classes=2, dims=2,
    )
    return NodeWorker("hospital-a", dataset, device=torch.device("cpu"))


def _task(round_number: int = 1, **overrides: object) -> TrainTask:
    params = model_arrays(build_model("cnn2d", in_channels=1, n_classes=2, dims=2))
    return TrainTask("s", round_number, params, {**CONFIG, **overrides})


@pytest.mark.clause("5.4.2.3e-f")
def test_a_task_is_answered_with_trained_parameters_and_declared_metrics(worker: NodeWorker) -> None:
    task = _task()
    update = worker.handle(task)
    assert isinstance(update, NodeUpdate)
    assert update.num_samples == 40 and update.node == "hospital-a"
    assert set(update.metrics) <= DECLARED_METRICS and update.metrics["n_val"] == 8.0
    changed = [k for k in task.params if not np.array_equal(task.params[k], update.params[k])]
    assert "head.1.weight" in changed


def test_training_is_reproducible_for_the_same_round_and_differs_between_rounds(worker: NodeWorker) -> None:
    a, b, c = worker.handle(_task(1)), worker.handle(_task(1)), worker.handle(_task(2))
    key = "head.1.weight"
    assert np.array_equal(a.params[key], b.params[key])
    assert not np.array_equal(a.params[key], c.params[key])


def test_a_task_that_does_not_fit_the_data_becomes_a_coded_failure(worker: NodeWorker) -> None:
    with pytest.raises(DataError, match="expects 5 classes"):
        worker.handle(_task(n_classes=5))
    reply = serde.decode(respond(worker, serde.encode(_task(n_classes=5))))  # type: ignore[arg-type]
    assert isinstance(reply, NodeFailure) and reply.code == "data" and "5 classes" in reply.message
    reply = serde.decode(respond(worker, serde.encode(_task(optimizer="lbfgs"))))  # type: ignore[arg-type]
    assert isinstance(reply, NodeFailure) and "unknown optimizer" in reply.message
    broken = dict(CONFIG)
    del broken["lr"]
    reply = serde.decode(respond(worker, serde.encode(TrainTask("s", 1, _task().params, broken))))  # type: ignore[arg-type]
    assert isinstance(reply, NodeFailure) and reply.code == "config"


def test_study_end_stops_the_loop(worker: NodeWorker) -> None:
    end = StudyEnd("s", True)
    assert respond(worker, serde.encode(end)) == end


@pytest.mark.clause("5.3.2d")
def test_a_feature_table_of_another_width_is_a_data_error_not_a_crash() -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(48, 14)).astype(np.float32)  # a 14-column table ...
    labels = np.tile([0, 1], 24).astype(np.int64)
    dataset = LocalDataset(
        flag="pneumoniamnist_stats", size=0, train=Split(features[:40], labels[:40]),
        val=Split(features[40:], labels[40:]), n_classes=2, dims=0,
    )
    node = NodeWorker("hospital-a", dataset, device=torch.device("cpu"))
    params = model_arrays(build_model("logreg", in_channels=4, n_classes=2, dims=0))
    config = {**CONFIG, "model": "logreg", "in_channels": 4, "dims": 0, "image_size": 0}  # ... in a 4-feature study
    with pytest.raises(DataError, match="takes 4 features per record; hospital-a's feature table has 14"):
        node.handle(TrainTask("s", 1, params, config))


@pytest.mark.clause("5.4.3.3-4")
def test_the_node_refuses_class_weights_with_dp_sgd_whatever_the_dispatcher_sends(worker: NodeWorker) -> None:
    task = _task(model="cnn2d_gn", class_weight="balanced", mechanism="dp_sgd", noise_multiplier=1.0, clip_norm=1.0)
    params = model_arrays(build_model("cnn2d_gn", in_channels=1, n_classes=2, dims=2))
    reply = serde.decode(respond(worker, serde.encode(TrainTask("s", 1, params, task.config))))
    assert isinstance(reply, NodeFailure) and "class-balanced weights with dp_sgd" in reply.message
    assert worker.guard.epsilon(1e-5) == 0.0  # refused before anything was spent


@pytest.mark.clause("5.5.1.4a")
def test_a_send_that_breaks_before_its_acknowledgement_is_logged_as_unconfirmed(worker: NodeWorker) -> None:
    from medfed.crypto import get_suite
    from medfed.errors import TransportError
    from medfed.ledger.oplog import OpAction, OperationLog, Outcome, verify_log
    from medfed.node.runner import run_node
    from medfed.roles import Role

    suite = get_suite("intl")
    worker.oplog = OperationLog(None, suite, party="hospital-a", role=Role.DATA)
    sent: list[bytes] = []

    class DispatcherDiesMidAck:
        def tasks(self):
            yield serde.encode(_task())
            yield serde.encode(StudyEnd("s", False, "dispatcher restarted"))

        def submit(self, frame: bytes) -> bytes:
            sent.append(frame)
            raise TransportError("connection reset before the acknowledgement")

    assert run_node(worker, DispatcherDiesMidAck()).ok is False
    [update] = sent
    records = [r for _, r in verify_log(worker.oplog, suite).records if r.action == OpAction.UPDATE_SENT]
    assert [(r.outcome, r.details["round"], r.details["update_digest"]) for r in records] == [
        (Outcome.FAILED, 1, suite.digest(update).hex())
    ]
