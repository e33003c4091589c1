"""Write a signed ``.mfbundle`` (clause 5.7.3.4): model, declarative pre/post-processing, descriptor.

The format is defined once, in ``medfed_runtime._format``, and read by ``medfed_runtime``.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medfed.deployment.onnx_export import INPUT_NAME, OPSET, OUTPUT_NAME
from medfed.deployment.run_folder import TrainedRun
from medfed.deployment.signer import BundleSigner
from medfed_runtime._format import (
    DESCRIPTOR,
    FORMAT,
    FORMAT_VERSION,
    MODEL,
    SIGNATURE,
    SIGNER,
    SUITE_DIGESTS,
    member_digest,
)


def preprocessing_spec(run: TrainedRun) -> dict[str, Any]:
    """The training pipeline as parameters: uint8 pixels / 255 to float32, channels first.

    MedMNIST images are stored at the training size, so resizing and grey/colour conversion
    only act on inputs that differ from it; no normalisation beyond the scaling (mean 0, std 1),
    and no windowing (PNG/JPEG are 8-bit already; DICOM uses the window the file declares).
    """
    channels = run.info.n_channels
    return {
        "height": run.image_size,
        "width": run.image_size,
        "channels": channels,
        "layout": "NCHW",
        "to_uint8": "minmax",
        "colour_to_grey": "bt601",
        "resize": "bilinear",
        "scale": 255.0,
        "mean": [0.0] * channels,
        "std": [1.0] * channels,
    }


def postprocessing_spec(run: TrainedRun) -> dict[str, Any]:
    """Softmax; two classes: class 1 when its probability is above 0.5 (= argmax); else argmax."""
    names = list(run.info.labels)
    decision: dict[str, Any] = (
        {"rule": "threshold", "positive_index": 1, "threshold": 0.5} if len(names) == 2 else {"rule": "argmax"}
    )
    return {"activation": "softmax", "class_names": names, "decision": decision}


def build_descriptor(
    run: TrainedRun,
    *,
    signer: BundleSigner,
    model_bytes: bytes,
    quantization: dict[str, Any],
    metrics: dict[str, Any],
) -> dict[str, Any]:
    """The model card: everything a loader needs, and what the signature covers."""
    algorithm = SUITE_DIGESTS[signer.suite]
    c, h, w = run.input_shape
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "suite": signer.suite,
        "study_id": run.study_id,
        "model_name": run.model_name,
        "model_version": f"{run.study_id}/{run.model_sha256[:16]}",
        "training_parameters_sha256": run.model_sha256,
        "dataset": {"flag": run.info.flag, "task": run.info.task.value, "size": run.image_size},
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "signer": {"name": signer.name, "role": "result"},
        "class_names": list(run.info.labels),
        "model_format": "onnx",
        "opset": OPSET,
        "quantization": quantization,
        "input": {"name": INPUT_NAME, "shape": ["batch", c, h, w], "dtype": "float32"},
        "output": {"name": OUTPUT_NAME, "shape": ["batch", run.info.n_classes], "dtype": "float32"},
        "preprocessing": preprocessing_spec(run),
        "postprocessing": postprocessing_spec(run),
        "metrics": metrics,
        "members": {MODEL: {"bytes": len(model_bytes), algorithm: member_digest(algorithm, model_bytes)}},
    }


def _strict_json(value: Any) -> Any:
    """``value`` with every non-finite float as null: ``NaN`` is not JSON, and strict readers refuse it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict_json(v) for v in value]
    return value


def write_bundle(out_path: str | Path, *, descriptor: dict[str, Any], model_bytes: bytes, signer: BundleSigner) -> Path:
    """Sign ``descriptor`` and write the one-file bundle atomically (a partial file never appears)."""
    out_path = Path(out_path)
    descriptor_bytes = json.dumps(_strict_json(descriptor), indent=1, sort_keys=True, allow_nan=False).encode("utf-8")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    try:
        # The model is stored, not deflated: its size in the bundle is its size on disk.
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(DESCRIPTOR, descriptor_bytes)
            archive.writestr(SIGNATURE, signer.sign(descriptor_bytes))
            archive.writestr(SIGNER, signer.cert_pem)
            archive.writestr(MODEL, model_bytes)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path
