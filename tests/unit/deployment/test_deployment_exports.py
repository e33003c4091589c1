"""The deployment package's public API (style: small, listed, guarded)."""

from __future__ import annotations

import medfed.deployment


def test_public_api_is_exactly_this() -> None:
    assert sorted(medfed.deployment.__all__) == sorted(
        [
            "RATIO_DEFINITION", "ExportError", "ExportReport", "ModeRow", "QuantizeMode", "RunFolderError",
            "SignerKitError", "TrainedRun", "export_run", "load_trained_run", "reference_probabilities",
        ]
    )
    for name in medfed.deployment.__all__:
        assert hasattr(medfed.deployment, name)
