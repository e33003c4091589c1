"""Static-graph conversion and Conv/BN fusion (5.7.2.2, 5.7.3.2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from medfed.data import images_to_float, load_medmnist
from medfed.deployment import load_trained_run
from medfed.deployment.onnx_export import export_onnx, fold_batchnorm, op_types


@pytest.fixture(scope="module")
def run(run_dir: Path):  # type: ignore[no-untyped-def]
    return load_trained_run(run_dir)


@pytest.fixture(scope="module")
def test_inputs(medmnist_dir: Path) -> np.ndarray:
    return images_to_float(load_medmnist("pneumoniamnist", data_dir=medmnist_dir).test.images, dims=2)


@pytest.mark.clause("5.7.3.2")
@pytest.mark.clause("5.7.2.2")
def test_fused_graph_has_no_batchnorm_and_equals_pytorch_on_the_whole_test_split(run, test_inputs) -> None:  # type: ignore[no-untyped-def]
    fused = export_onnx(run.model, run.input_shape)
    assert "BatchNormalization" not in op_types(fused)
    assert op_types(fused).count("Conv") == 2
    session = ort.InferenceSession(fused, providers=["CPUExecutionProvider"])
    (onnx_logits,) = session.run(None, {"image": test_inputs})
    with torch.no_grad():
        torch_logits = run.model.eval()(torch.from_numpy(test_inputs)).numpy()
    assert onnx_logits.shape == (len(test_inputs), 2)
    assert np.abs(onnx_logits - torch_logits).max() <= 1e-5


@pytest.mark.clause("5.7.3.2")
def test_unfused_export_keeps_batchnorm_so_the_fusion_is_ours(run) -> None:  # type: ignore[no-untyped-def]
    # With fuse=False only ORT's passes run; our torch-side folding is what guarantees the result.
    folded = fold_batchnorm(run.model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in run.model.modules())  # original untouched


@pytest.mark.clause("5.7.2.2")
def test_exported_graph_takes_any_batch_size(run, test_inputs) -> None:  # type: ignore[no-untyped-def]
    session = ort.InferenceSession(export_onnx(run.model, run.input_shape), providers=["CPUExecutionProvider"])
    for n in (1, 7):
        (logits,) = session.run(None, {"image": test_inputs[:n]})
        assert logits.shape == (n, 2)
