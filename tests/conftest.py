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


_BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium():
    """A real headless Chromium (Debian's package) driven by Playwright.

    Under CI a missing browser is a failure; elsewhere the test is skipped with the reason.
    """
    import shutil

    executable = os.environ.get("MEDFED_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - dev extras always install it
        executable = None
    if executable is None:
        message = "Chromium or Playwright is not installed (make test installs both as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=_BROWSER_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
