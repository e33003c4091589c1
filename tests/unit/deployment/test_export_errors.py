"""``export_run`` refuses bad inputs with a clear reason (5.7.2.2)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from medfed.deployment import RunFolderError, SignerKitError, export_run
from medfed.errors import ConfigError

pytestmark = pytest.mark.clause("5.7.2.2")


def test_missing_run_folder(tmp_path: Path, kits_intl: Path) -> None:
    with pytest.raises(RunFolderError, match="does not exist"):
        export_run(tmp_path / "nope", tmp_path / "o.mfbundle", signer_kit=kits_intl / "result")


def test_run_folder_without_a_model(run_dir: Path, tmp_path: Path, kits_intl: Path) -> None:
    partial = tmp_path / "run"
    partial.mkdir()
    shutil.copy(run_dir / "results.json", partial / "results.json")
    with pytest.raises(RunFolderError, match="no model.safetensors"):
        export_run(partial, tmp_path / "o.mfbundle", signer_kit=kits_intl / "result")
    assert not (tmp_path / "o.mfbundle").exists()


def test_kit_of_a_hospital_cannot_sign(run_dir: Path, tmp_path: Path, kits_intl: Path) -> None:
    with pytest.raises(SignerKitError, match="acting as 'data'.*result party"):
        export_run(run_dir, tmp_path / "o.mfbundle", signer_kit=kits_intl / "hospital-a")


def test_kit_that_is_not_a_kit(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(SignerKitError, match="cannot sign"):
        export_run(run_dir, tmp_path / "o.mfbundle", signer_kit=tmp_path)


def test_unknown_quantization(run_dir: Path, tmp_path: Path, kits_intl: Path) -> None:
    with pytest.raises(ConfigError, match="choose none, int8 or 16x"):
        export_run(run_dir, tmp_path / "o.mfbundle", signer_kit=kits_intl / "result", quantize="4bit")
