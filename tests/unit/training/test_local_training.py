from __future__ import annotations

import numpy as np
import pytest
import torch

from medfed.errors import ConfigError
from medfed.models import build_model, model_arrays
from medfed.training import (
    LocalTrainConfig,
    derive_seed,
    predict_proba,
    resolve_device,
    train_local,
)


def _toy(n: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.rand((n, 1, 28, 28), generator=g) * 0.2
    x[y == 1, :, 10:18, 10:18] += 0.8  # a bright square marks class 1
    return x, y


def test_training_learns_a_separable_toy_problem() -> None:
    x, y = _toy()
    model = build_model("cnn2d", in_channels=1, n_classes=2, dims=2)
    before = predict_proba(model, x)
    stats = train_local(model, x, y, LocalTrainConfig(epochs=8, batch_size=16), shuffle_seed=1)
    after = predict_proba(model, x)
    assert stats.num_samples == 128 and stats.seconds > 0
    assert (after.argmax(1) == y.numpy()).mean() > 0.95 > (before.argmax(1) == y.numpy()).mean()
    np.testing.assert_allclose(after.sum(1), 1.0, rtol=1e-6)


def test_same_shuffle_seed_gives_identical_weights() -> None:
    x, y = _toy(64)
    results = []
    for _ in range(2):
        model = build_model("cnn2d", in_channels=1, n_classes=2, dims=2)
        train_local(model, x, y, LocalTrainConfig(batch_size=16), shuffle_seed=5)
        results.append(model_arrays(model))
    assert all(np.array_equal(results[0][k], results[1][k]) for k in results[0])


def test_proximal_term_keeps_weights_closer_to_the_start() -> None:
    x, y = _toy(64)
    start = model_arrays(build_model("cnn2d", in_channels=1, n_classes=2, dims=2))
    drift = {}
    for mu in (0.0, 10.0):
        model = build_model("cnn2d", in_channels=1, n_classes=2, dims=2)
        train_local(model, x, y, LocalTrainConfig(epochs=2, batch_size=16, lr=1e-2, proximal_mu=mu), shuffle_seed=5)
        end = model_arrays(model)
        drift[mu] = sum(float(((end[k] - start[k]) ** 2).sum()) for k in start if "weight" in k)
    assert drift[10.0] < drift[0.0]


def test_derived_seeds_are_stable_and_distinct() -> None:
    assert derive_seed(0, 1, "hospital-a") == derive_seed(0, 1, "hospital-a")
    assert derive_seed(0, 1, "hospital-a") != derive_seed(0, 2, "hospital-a")
    assert derive_seed(0, 1, "hospital-a") == 628041592255245161  # same in every process and release


def test_device_choice_and_bad_options() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            resolve_device("cuda")
    with pytest.raises(ConfigError, match="auto, cpu or cuda"):
        resolve_device("tpu")
    x, y = _toy(8)
    with pytest.raises(ConfigError, match="unknown optimizer"):
        train_local(build_model("cnn2d", in_channels=1, n_classes=2, dims=2), x, y,
                    LocalTrainConfig(optimizer="lbfgs"), shuffle_seed=0)
