from __future__ import annotations

import numpy as np
import pytest
import torch

from medfed.errors import ModelError
from medfed.models import MODEL_NAMES, build_model, load_arrays, model_arrays


@pytest.mark.parametrize(
    ("name", "dims", "shape"),
    [("cnn2d", 2, (4, 1, 28, 28)), ("cnn2d", 2, (4, 3, 64, 64)), ("cnn3d", 3, (2, 1, 28, 28, 28))],
)
def test_models_produce_one_logit_per_class(name: str, dims: int, shape: tuple[int, ...]) -> None:
    model = build_model(name, in_channels=shape[1], n_classes=5, dims=dims, image_size=shape[-1])
    assert model(torch.rand(shape)).shape == (shape[0], 5)


def test_same_seed_same_weights_and_global_rng_untouched() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = model_arrays(build_model("cnn2d", in_channels=1, n_classes=2, dims=2, seed=7))
    after = torch.rand(1)
    b = model_arrays(build_model("cnn2d", in_channels=1, n_classes=2, dims=2, seed=7))
    c = model_arrays(build_model("cnn2d", in_channels=1, n_classes=2, dims=2, seed=8))
    assert before == after
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_unknown_model_and_wrong_dimensionality_are_named() -> None:
    with pytest.raises(ModelError, match="unknown model 'resnet9000'.*cnn2d"):
        build_model("resnet9000", in_channels=1, n_classes=2, dims=2)
    with pytest.raises(ModelError, match="use cnn3d"):
        build_model("cnn2d", in_channels=1, n_classes=2, dims=3)
    with pytest.raises(ModelError, match="use logreg"):
        build_model("cnn2d", in_channels=30, n_classes=2, dims=0)
    assert MODEL_NAMES == ("cnn2d", "cnn2d_gn", "cnn3d", "cnn3d_gn", "logreg")


def test_logistic_regression_maps_feature_vectors_to_logits() -> None:
    model = build_model("logreg", in_channels=30, n_classes=2, dims=0)
    out = model(torch.zeros(5, 30))
    assert out.shape == (5, 2)
    assert sorted(model_arrays(model)) == ["linear.bias", "linear.weight"]


def test_loading_parameters_checks_names_and_shapes() -> None:
    model = build_model("cnn2d", in_channels=1, n_classes=2, dims=2)
    arrays = model_arrays(model)
    arrays["head.1.weight"] = np.zeros((3, 3), np.float32)
    with pytest.raises(ModelError, match="head.1.weight"):
        load_arrays(model, arrays)
    arrays = model_arrays(model)
    del arrays["head.1.bias"]
    with pytest.raises(ModelError, match="missing"):
        load_arrays(model, arrays)
