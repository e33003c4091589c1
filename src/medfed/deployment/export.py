"""``export_run``: a run folder's federated model to one signed bundle, with its measured report."""

from __future__ import annotations

import enum
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medfed.data import MedMNIST, images_to_float, load_medmnist
from medfed.deployment.bundle import build_descriptor, write_bundle
from medfed.deployment.errors import SignerKitError
from medfed.deployment.measure import BundleScores, score_bundle
from medfed.deployment.onnx_export import export_onnx
from medfed.deployment.quantize import calibration_images, quantize_int8
from medfed.deployment.run_folder import TrainedRun, load_trained_run
from medfed.deployment.signer import BundleSigner, load_signer
from medfed.deployment.ternary import TERNARY_SCHEME, quantize_ternary
from medfed.errors import ConfigError
from medfed.training import as_tensors, predict_proba
from medfed_runtime import load_bundle


class QuantizeMode(enum.StrEnum):
    NONE = "none"
    INT8 = "int8"
    X16 = "16x"


@dataclass(frozen=True)
class ModeRow:
    """One model variant measured on the test split (through the SDK, on CPU)."""

    mode: str
    model_bytes: int
    compression_ratio: float  # fp32 ONNX bytes / this model's bytes in the bundle
    auc: float
    ks: float
    accuracy: float
    delta_auc: float  # this - fp32
    delta_ks: float
    latency_ms: float  # median single-image predict(), pre/post-processing included


@dataclass(frozen=True)
class ExportReport:
    """What ``export_run`` wrote and measured: the bundle, and a row for fp32 and the chosen mode."""

    bundle_path: Path
    mode: str
    suite: str
    study_id: str
    trusted_ca_pem: bytes
    rows: tuple[ModeRow, ...]
    test_samples: int

    def row(self, mode: str) -> ModeRow:
        return next(r for r in self.rows if r.mode == mode)

    def as_dict(self) -> dict[str, Any]:
        return {
            "bundle": str(self.bundle_path),
            "mode": self.mode,
            "suite": self.suite,
            "study_id": self.study_id,
            "test_samples": self.test_samples,
            "compression_ratio_definition": RATIO_DEFINITION,
            "modes": [asdict(r) for r in self.rows],
        }


RATIO_DEFINITION = (
    "bytes of the fp32 ONNX model (BatchNorm folded, ORT-optimised) divided by the bytes of the "
    "model.onnx member stored (uncompressed) in the bundle"
)


def _mode(value: str) -> QuantizeMode:
    try:
        return QuantizeMode(value)
    except ValueError:
        raise ConfigError(f"unknown quantization {value!r}; choose none, int8 or 16x") from None


def _quantization(mode: QuantizeMode, data: MedMNIST) -> dict[str, Any]:
    if mode is QuantizeMode.NONE:
        return {"mode": "none", "scheme": "float32"}
    if mode is QuantizeMode.INT8:
        return {
            "mode": "int8",
            "scheme": "onnxruntime static QDQ: int8 per-channel symmetric 7-bit-range weights, uint8 activations, MinMax",
            "calibration": {"split": "val", "images": len(calibration_images(data))},
        }
    return {"mode": "16x", "scheme": TERNARY_SCHEME, "fine_tuning": {"split": "val", "method": "distillation from fp32"}}


def _signed_scores(
    run: TrainedRun, signer: BundleSigner, model_bytes: bytes, quantization: dict[str, Any], data: MedMNIST, tmp: Path
) -> BundleScores:
    """Scores through the SDK of a bundle holding ``model_bytes`` (the final bundle adds them to its card)."""
    path = tmp / f"{quantization['mode']}.mfbundle"
    descriptor = build_descriptor(run, signer=signer, model_bytes=model_bytes, quantization=quantization, metrics={})
    write_bundle(path, descriptor=descriptor, model_bytes=model_bytes, signer=signer)
    bundle = load_bundle(path, trusted_ca=signer.ca_pem)
    return score_bundle(bundle, data.test.images, data.test.labels)


def _row(mode: str, model_bytes: int, fp32_bytes: int, scores: BundleScores, reference: BundleScores) -> ModeRow:
    m, ref = scores.metrics, reference.metrics
    return ModeRow(
        mode=mode,
        model_bytes=model_bytes,
        compression_ratio=round(fp32_bytes / model_bytes, 3),
        auc=round(m.auc, 6),
        ks=round(m.ks, 6),
        accuracy=round(m.accuracy, 6),
        delta_auc=round(m.auc - ref.auc, 6),
        delta_ks=round(m.ks - ref.ks, 6),
        latency_ms=round(scores.latency_ms, 4),
    )


def _card_metrics(run: TrainedRun, row: ModeRow, reference: ModeRow, n_test: int) -> dict[str, Any]:
    return {
        "test": {"auc": row.auc, "ks": row.ks, "accuracy": row.accuracy, "samples": n_test},
        "fp32_reference": {"auc": reference.auc, "ks": reference.ks, "model_bytes": reference.model_bytes},
        "delta_auc": row.delta_auc,
        "delta_ks": row.delta_ks,
        "model_bytes": row.model_bytes,
        "compression_ratio": row.compression_ratio,
        "compression_ratio_definition": RATIO_DEFINITION,
        "latency_ms_cpu": row.latency_ms,
        "training": run.results.get("federated"),
    }


def model_for_mode(run: TrainedRun, mode: QuantizeMode, fp32: bytes, data: MedMNIST) -> bytes:
    """The ONNX bytes of ``run``'s model in ``mode`` (fp32 is the fused, optimised export)."""
    if mode is QuantizeMode.INT8:
        return quantize_int8(fp32, calibration_images(data))
    if mode is QuantizeMode.X16:
        return quantize_ternary(run, data)
    return fp32


def export_run(
    run_dir: str | Path,
    out_path: str | Path,
    *,
    signer_kit: str | Path,
    quantize: str = "none",
    data_dir: str | Path | None = None,
) -> ExportReport:
    """Export the federated model of ``run_dir`` to the signed bundle ``out_path``.

    ``quantize``: "none" (fp32), "int8" or "16x". The fp32 model and the chosen one are both
    measured on the dataset's test split through the SDK; calibration and fine-tuning use the
    validation split only. ``signer_kit``: the result party's kit of the same study.
    """
    mode = _mode(quantize)
    run = load_trained_run(run_dir)
    signer = load_signer(signer_kit)
    if signer.study_id != run.study_id:
        raise SignerKitError(
            f"kit {signer_kit} belongs to study {signer.study_id!r}, the run to {run.study_id!r}"
        )
    data = load_medmnist(run.info.flag, size=run.image_size, data_dir=data_dir)
    fp32 = export_onnx(run.model, run.input_shape)
    model_bytes = model_for_mode(run, mode, fp32, data)
    quantization = _quantization(mode, data)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        reference = _signed_scores(run, signer, fp32, _quantization(QuantizeMode.NONE, data), data, tmp)
        rows = [_row("none", len(fp32), len(fp32), reference, reference)]
        if mode is not QuantizeMode.NONE:
            scores = _signed_scores(run, signer, model_bytes, quantization, data, tmp)
            rows.append(_row(mode.value, len(model_bytes), len(fp32), scores, reference))
    metrics = _card_metrics(run, rows[-1], rows[0], len(data.test))
    descriptor = build_descriptor(run, signer=signer, model_bytes=model_bytes, quantization=quantization, metrics=metrics)
    path = write_bundle(out_path, descriptor=descriptor, model_bytes=model_bytes, signer=signer)
    return ExportReport(
        bundle_path=path,
        mode=mode.value,
        suite=signer.suite,
        study_id=run.study_id,
        trusted_ca_pem=signer.ca_pem,
        rows=tuple(rows),
        test_samples=len(data.test),
    )


def reference_probabilities(run: TrainedRun, images: np.ndarray) -> np.ndarray:
    """The framework's own answer: the torch model on the training pre-processing, (N, K) float64."""
    x, _ = as_tensors(images_to_float(images, dims=2), np.zeros(len(images), dtype=np.int64), torch.device("cpu"))
    return predict_proba(run.model, x)
