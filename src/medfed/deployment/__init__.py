"""Deployment (clauses 5.7.1.2, 5.7.2.2, 5.7.3.2-5.7.3.4): a trained model to a signed edge bundle.

    from medfed.deployment import export_run
    report = export_run("runs/20260101-120000", "model.mfbundle",
                        signer_kit="kits/result", quantize="16x")   # "none" | "int8" | "16x"
    report.rows          # fp32 and the chosen mode: bytes, ratio, AUC/KS vs fp32, CPU latency
    report.as_dict()     # the same as JSON-ready numbers

``export_run(run_dir, out_path, *, signer_kit, quantize="none", data_dir=None) -> ExportReport``
reads the run folder's ``results.json`` and ``model.safetensors``, then

1. folds BatchNorm into the convolutions, traces the model to a static ONNX graph (opset 17)
   and applies ONNX Runtime's portable graph optimisations (``onnx_export``);
2. quantizes: ``int8`` = ONNX Runtime static QDQ calibrated on the validation split
   (``quantize``); ``16x`` = ternary weights packed five per byte with in-graph decoding,
   fine-tuned by distillation on the validation split (``ternary``, where the choice is argued);
3. measures fp32 and the chosen mode on the test split *through the edge SDK*: AUC, KS,
   accuracy, the compression ratio (bytes of the fp32 ONNX model / bytes of the model stored
   in the bundle) and the median single-image CPU latency (``measure``);
4. writes one ``.mfbundle`` (ZIP): the model, the declarative pre/post-processing and a
   descriptor with shapes, metrics, study id and member digests, signed by the result
   party's kit with the study's suite (SM2/SM3 for ``gm``, ECDSA/SHA-256 for ``intl``) and
   carrying the signer certificate (``bundle``, ``signer``).

The bundle is read by ``medfed_runtime`` (the edge SDK: numpy + onnxruntime, no torch), which
verifies the certificate chain, role, signature and every digest before it predicts.

Errors: ``RunFolderError`` (a ConfigError) for a missing or incomplete run folder,
``SignerKitError`` (an IdentityError) for a kit that is not this study's result party,
``ExportError`` (a ModelError) when conversion or quantization cannot be done.
"""

from __future__ import annotations

import importlib
from typing import Any

from medfed.deployment.errors import ExportError, RunFolderError, SignerKitError

# Export and measurement need torch; the serving side (``medfed.deployment.serve``) does not, so
# they are imported on first use rather than with the package.
_LAZY = {
    "RATIO_DEFINITION": "medfed.deployment.export",
    "ExportReport": "medfed.deployment.export",
    "ModeRow": "medfed.deployment.export",
    "QuantizeMode": "medfed.deployment.export",
    "export_run": "medfed.deployment.export",
    "reference_probabilities": "medfed.deployment.export",
    "TrainedRun": "medfed.deployment.run_folder",
    "load_trained_run": "medfed.deployment.run_folder",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "RATIO_DEFINITION",
    "ExportError",
    "ExportReport",
    "ModeRow",
    "QuantizeMode",
    "RunFolderError",
    "SignerKitError",
    "TrainedRun",
    "export_run",
    "load_trained_run",
    "reference_probabilities",
]
