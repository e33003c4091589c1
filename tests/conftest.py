"""Shared fixtures: where the MedMNIST files are, and small studies built on the fly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The clause marker and the --conformance-json report (see `medfed conformance`).
pytest_plugins = ["medfed.conformance.plugin"]

_DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "medmnist"


@pytest.fixture(scope="session")
def medmnist_dir() -> Path:
    """The directory of verified MedMNIST files; under CI its absence is a failure, not a skip."""
    path = Path(os.environ.get("MEDFED_DATA_DIR", _DEFAULT_DATA))
    if not (path / "pneumoniamnist.npz").is_file():
        message = f"MedMNIST data not found in {path}; set MEDFED_DATA_DIR"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path
