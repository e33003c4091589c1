"""Dynamic graph to static graph (clauses 5.7.2.2, 5.7.3.2): fold BatchNorm, trace to ONNX, optimise.

BatchNorm is folded into the preceding convolution in PyTorch (``w' = w * g / sqrt(v + eps)``,
``b' = (b - m) * g / sqrt(v + eps) + beta``), the folded network is traced to ONNX opset 17
with a dynamic batch axis, and ONNX Runtime's *basic* offline optimisations (constant folding,
redundant-node elimination, Conv+Add/Mul fusions) are applied and saved. Basic level only: the
extended level writes ``com.microsoft`` operators tied to one execution provider, and a bundle
must run on any onnxruntime.
"""

from __future__ import annotations

import copy
import tempfile
import warnings
from pathlib import Path

import onnx
import onnxruntime as ort
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from medfed.deployment.errors import ExportError

OPSET = 17
INPUT_NAME = "image"
OUTPUT_NAME = "logits"


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every Conv directly followed by BatchNorm fused into one Conv."""
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        if not isinstance(module, nn.Sequential):
            continue
        children = list(module.named_children())
        for (name, conv), (bn_name, bn) in zip(children, children[1:], strict=False):
            if isinstance(conv, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) and isinstance(
                bn, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
            ):
                setattr(module, name, fuse_conv_bn_eval(conv, bn))
                setattr(module, bn_name, nn.Identity())
    return folded


def _optimise(model_bytes: bytes) -> bytes:
    """ONNX Runtime's portable (basic) graph optimisations, saved to a file and read back."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "optimised.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(out)
        options.log_severity_level = 3
        ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        return out.read_bytes()


def op_types(model_bytes: bytes) -> list[str]:
    """Operator types of an ONNX graph, in node order."""
    return [node.op_type for node in onnx.load_from_string(model_bytes).graph.node]


def export_onnx(model: nn.Module, input_shape: tuple[int, ...], *, fuse: bool = True) -> bytes:
    """The model as optimised ONNX bytes: input ``image`` (N, *input_shape) float32, output ``logits``."""
    source = fold_batchnorm(model) if fuse else copy.deepcopy(model).eval()
    source = source.cpu()
    dummy = torch.zeros((1, *input_shape), dtype=torch.float32)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        traced = Path(tmp) / "traced.onnx"
        torch.onnx.export(
            source,
            (dummy,),
            str(traced),
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        )
        traced_bytes = traced.read_bytes()
    optimised = _optimise(traced_bytes)
    onnx.checker.check_model(onnx.load_from_string(optimised))
    if fuse and "BatchNormalization" in op_types(optimised):
        raise ExportError("BatchNormalization survived fusion: a BatchNorm does not follow a convolution")
    return optimised
