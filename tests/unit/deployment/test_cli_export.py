"""``medfed export`` (5.7.2.2): writes the bundle, prints the table, writes --json numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medfed.cli import main
from medfed_runtime import load_bundle

pytestmark = [pytest.mark.clause("5.7.2.2"), pytest.mark.slow]


def test_export_command_writes_a_loadable_bundle_and_the_numbers(
    run_dir: Path, kits_intl: Path, medmnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, numbers = tmp_path / "m.mfbundle", tmp_path / "n.json"
    code = main([
        "export", str(run_dir), "--format", "onnx", "--quantize", "int8", "--signer-kit", str(kits_intl / "result"),
        "--out", str(out), "--data-dir", str(medmnist_dir), "--json", str(numbers),
    ])
    assert code == 0
    printed = capsys.readouterr().out
    assert "fp32" in printed and "int8" in printed and "ratio" in printed
    report = json.loads(numbers.read_text())
    assert [m["mode"] for m in report["modes"]] == ["none", "int8"]
    assert report["modes"][1]["compression_ratio"] > 3
    bundle = load_bundle(out, trusted_ca=kits_intl / "result" / "ca.pem")
    assert bundle.descriptor["quantization"]["mode"] == "int8"


def test_export_command_reports_a_wrong_kit_in_one_line(
    run_dir: Path, kits_intl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["export", str(run_dir), "--signer-kit", str(kits_intl / "hospital-a"), "--out", str(tmp_path / "x")])
    assert code == 2
    assert "result party" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_export_command_reports_a_missing_run_folder(kits_intl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(tmp_path / "none"), "--signer-kit", str(kits_intl / "result")]) == 2
    assert "does not exist" in capsys.readouterr().err
