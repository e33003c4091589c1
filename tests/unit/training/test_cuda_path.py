"""The CUDA path of training: the same code with device='cuda'. Skipped where no GPU exists."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medfed.core.messages import TrainTask
from medfed.data import LocalDataset, Split
from medfed.models import build_model, model_arrays
from medfed.node.worker import NodeWorker
from medfed.training import LocalTrainConfig, predict_proba, resolve_device, train_local

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


@cuda
def test_auto_device_picks_cuda_and_training_learns_there() -> None:
    device = resolve_device("auto")
    assert device.type == "cuda"
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (256,), generator=g)
    x = torch.rand((256, 1, 28, 28), generator=g) * 0.2
    x[y == 1, :, 10:18, 10:18] += 0.8
    model = build_model("cnn2d", in_channels=1, n_classes=2, dims=2).to(device)
    train_local(model, x.to(device), y.to(device), LocalTrainConfig(epochs=8, batch_size=32), shuffle_seed=1)
    assert next(model.parameters()).device.type == "cuda"
    proba = predict_proba(model, x.to(device))
    assert (proba.argmax(1) == y.numpy()).mean() > 0.95


@cuda
def test_node_worker_on_cuda_returns_cpu_arrays_of_the_model_shapes() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(64, 28, 28), dtype=np.uint8)
    labels = np.tile([0, 1], 32).astype(np.int64)
    dataset = LocalDataset(
        flag="pneumoniamnist", size=28, train=Split(images[:48], labels[:48]),
        val=Split(images[48:], labels[48:]), n_classes=2, dims=2,
    )
    worker = NodeWorker("hospital-a", dataset, device=torch.device("cuda"))
    params = model_arrays(build_model("cnn2d", in_channels=1, n_classes=2, dims=2))
    config = {
        "model": "cnn2d", "in_channels": 1, "n_classes": 2, "dims": 2, "image_size": 28, "epochs": 1,
        "batch_size": 16, "optimizer": "adam", "lr": 1e-3, "proximal_mu": 0.0, "seed": 0,
    }
    update = worker.handle(TrainTask("s", 1, params, config))
    assert {k: v.shape for k, v in update.params.items()} == {k: v.shape for k, v in params.items()}
    assert all(isinstance(v, np.ndarray) for v in update.params.values())
    assert not np.array_equal(update.params["head.1.weight"], params["head.1.weight"])
