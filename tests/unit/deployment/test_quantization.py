"""Quantization compression (5.7.3.3): int8 and the 16x mode, measured through the SDK."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from medfed.data import images_to_float, load_medmnist
from medfed.deployment.quantize import calibration_images
from medfed.deployment.ternary import MIN_PACKED_WEIGHTS, ternarize

pytestmark = pytest.mark.slow


def _member_bytes(bundle: Path, name: str) -> bytes:
    with zipfile.ZipFile(bundle) as archive:
        return archive.read(name)


@pytest.mark.clause("5.7.3.3")
def test_int8_keeps_auc_within_0_005_of_fp32(export_int8) -> None:  # type: ignore[no-untyped-def]
    fp32, int8 = export_int8.row("none"), export_int8.row("int8")
    assert abs(int8.auc - fp32.auc) <= 0.005
    assert int8.delta_auc == pytest.approx(int8.auc - fp32.auc, abs=2e-6)
    assert int8.compression_ratio > 3.5
    ops = {n.op_type for n in onnx.load_from_string(_member_bytes(export_int8.bundle_path, "model.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops


@pytest.mark.clause("5.7.3.3")
def test_16x_mode_is_at_least_16_times_smaller_and_keeps_auc_within_0_02(export_16x) -> None:  # type: ignore[no-untyped-def]
    fp32, small = export_16x.row("none"), export_16x.row("16x")
    stored = _member_bytes(export_16x.bundle_path, "model.onnx")
    # The ratio is computed from real bytes: fp32 ONNX / the model member of the bundle.
    assert small.model_bytes == len(stored)
    assert small.compression_ratio == pytest.approx(fp32.model_bytes / len(stored), abs=1e-3)
    assert small.compression_ratio >= 16
    assert abs(small.auc - fp32.auc) <= 0.02
    assert small.latency_ms > 0 and fp32.latency_ms > 0


@pytest.mark.clause("5.7.3.3")
def test_16x_model_stores_large_weights_as_packed_trits_that_decode_to_ternary(export_16x) -> None:  # type: ignore[no-untyped-def]
    model = onnx.load_from_string(_member_bytes(export_16x.bundle_path, "model.onnx"))
    floats = [numpy_helper.to_array(t) for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT]
    assert max(a.size for a in floats) < MIN_PACKED_WEIGHTS
    packed = [t for t in model.graph.initializer if t.name.endswith("__ternary_packed")]
    assert len(packed) == 2  # the second convolution and the first dense layer
    # Every packed byte holds five base-3 digits: no value can exceed 3^5 - 1.
    assert all(numpy_helper.to_array(t).max() <= 242 for t in packed)


def test_ternarize_gives_three_levels_per_output_channel() -> None:
    import torch

    weight = torch.randn(8, 50, generator=torch.Generator().manual_seed(0))
    t = ternarize(weight)
    for row in t:
        levels = set(np.unique(row.abs().numpy()).tolist())
        assert len(levels) <= 2 and 0.0 in levels


@pytest.mark.clause("5.7.3.3")
def test_calibration_uses_validation_images_never_test_images(medmnist_dir: Path) -> None:
    data = load_medmnist("pneumoniamnist", data_dir=medmnist_dir)
    calibration = calibration_images(data)
    assert len(calibration) == min(512, len(data.val))
    digest = lambda a: hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()  # noqa: E731
    val = {digest(a) for a in images_to_float(data.val.images, dims=2)}
    test = {digest(a) for a in images_to_float(data.test.images, dims=2)}
    used = {digest(a) for a in calibration}
    assert used <= val
    assert not used & (test - val)
