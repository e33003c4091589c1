"""``medfed export``: a run folder's model to one signed edge bundle, with its measured table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from medfed.errors import ConfigError


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="export a run's model to a signed edge bundle (ONNX, optional quantization)")
    p.add_argument("run_dir", type=Path, help="run folder of `medfed demo` / `simulate`")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="model format in the bundle")
    p.add_argument(
        # The modes of medfed.deployment.QuantizeMode, spelled out: importing it would load torch.
        "--quantize", default="none", choices=["none", "int8", "16x"],
        help="none (fp32), int8 (static QDQ) or 16x (ternary, >= 16x smaller)",
    )
    p.add_argument("--signer-kit", type=Path, required=True, help="the result party's kit (signs the bundle)")
    p.add_argument("--out", type=Path, help="bundle file (default <run>/model-<mode>.mfbundle)")
    p.add_argument("--data-dir", type=Path, help="folder holding MedMNIST .npz files (or $MEDFED_DATA_DIR)")
    p.add_argument("--json", type=Path, help="also write the measured numbers here")
    p.set_defaults(_run=run)


def _table(report: Any) -> Table:
    table = Table(title=f"{report.study_id}: model variants on the test split ({report.test_samples} images, CPU)")
    for column in ("mode", "size", "ratio", "AUC", "ΔAUC vs fp32", "KS", "ΔKS vs fp32", "latency / image"):
        table.add_column(column, justify="right")
    for r in report.rows:
        table.add_row(
            "fp32" if r.mode == "none" else r.mode,
            f"{r.model_bytes / 1024:.1f} KiB",
            f"{r.compression_ratio:.2f}x",
            f"{r.auc:.4f}",
            f"{r.delta_auc:+.4f}",
            f"{r.ks:.4f}",
            f"{r.delta_ks:+.4f}",
            f"{r.latency_ms:.3f} ms",
        )
    return table


def run(args: argparse.Namespace) -> int:
    if args.format != "onnx":
        raise ConfigError(f"unknown format {args.format!r}; only onnx is supported")
    from medfed.deployment import export_run

    out = args.out or args.run_dir / f"model-{args.quantize}.mfbundle"
    report = export_run(args.run_dir, out, signer_kit=args.signer_kit, quantize=args.quantize, data_dir=args.data_dir)
    console = Console()
    console.print(_table(report))
    console.print(f"compression ratio = {report.as_dict()['compression_ratio_definition']}")
    console.print(f"bundle: {report.bundle_path}  (signed by the result party, suite {report.suite})")
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=1), encoding="utf-8")
    return 0
