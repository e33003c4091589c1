"""The edge SDK's public surface, and its independence from torch and the framework (5.7.1.2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import medfed_runtime


def test_public_api_is_exactly_this() -> None:
    assert sorted(medfed_runtime.__all__) == sorted(
        ["EXTENSION", "FORMAT", "FORMAT_VERSION", "Bundle", "BundleError", "ImageError",
         "ImageTooLargeError", "Prediction",
         "load_bundle", "read_image"]
    )


@pytest.mark.clause("5.7.1.2")
def test_sdk_loads_and_predicts_with_torch_and_medfed_unimportable(export_fp32, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ca = tmp_path / "ca.pem"
    ca.write_bytes(export_fp32.trusted_ca_pem)
    script = f"""
import sys
sys.modules["torch"] = None  # any import of torch now fails
sys.modules["medfed"] = None
import numpy as np
from medfed_runtime import load_bundle
bundle = load_bundle({str(export_fp32.bundle_path)!r}, trusted_ca={str(ca)!r})
p = bundle.predict(np.zeros((28, 28), dtype=np.uint8))
print(p.label, bundle.descriptor["study_id"])
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[1] == "deploy-test"
