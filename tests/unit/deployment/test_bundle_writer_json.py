"""The bundle writer emits strict JSON: a strict reader elsewhere can parse every signed descriptor."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import pytest

from medfed.deployment.bundle import write_bundle
from medfed.deployment.signer import load_signer
from medfed_runtime import load_bundle


def _refuse(constant: str) -> None:
    raise ValueError(f"non-standard JSON constant {constant}")


@pytest.mark.clause("5.7.3.4")
def test_non_finite_metrics_are_written_as_null(export_fp32, kits_intl: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(export_fp32.bundle_path) as archive:
        descriptor = json.loads(archive.read("descriptor.json"))
        model = archive.read("model.onnx")
    # A test split with one class has no AUC: the metric is NaN.
    descriptor["metrics"]["test"]["auc"] = math.nan
    descriptor["metrics"]["extra"] = [math.inf, 1.5]
    path = write_bundle(tmp_path / "nan.mfbundle", descriptor=descriptor, model_bytes=model,
                        signer=load_signer(kits_intl / "result"))
    with zipfile.ZipFile(path) as archive:
        strict = json.loads(archive.read("descriptor.json"), parse_constant=_refuse)
    assert strict["metrics"]["test"]["auc"] is None and strict["metrics"]["extra"] == [None, 1.5]
    loaded = load_bundle(path, trusted_ca=export_fp32.trusted_ca_pem)
    assert loaded.descriptor["metrics"]["test"]["auc"] is None
