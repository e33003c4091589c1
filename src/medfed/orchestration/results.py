"""Evaluate both models on the result party's test split and write the run folder."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from safetensors.numpy import save_file

from medfed.core.config import StudyConfig
from medfed.core.messages import Arrays
from medfed.data import images_to_float
from medfed.evaluation import Metrics, classification_metrics, compare, write_report
from medfed.models import build_model, load_arrays
from medfed.orchestration.scenario import Scenario
from medfed.training import as_tensors, predict_proba


def evaluate_params(
    study: StudyConfig, scenario: Scenario, params: Arrays, *, device: torch.device
) -> tuple[Metrics, np.ndarray]:
    """Metrics and class probabilities (N, K) of ``params`` on the test split."""
    images = images_to_float(scenario.test.images, dims=scenario.dims)
    model = build_model(
        study.training.model,
        in_channels=images.shape[1],
        n_classes=scenario.n_classes,
        dims=scenario.dims,
        image_size=study.data.size,
    ).to(device)
    load_arrays(model, params)
    x, _ = as_tensors(images, scenario.test.labels, device)
    proba = predict_proba(model, x)
    return classification_metrics(scenario.test.labels, proba), proba


def build_results(
    study: StudyConfig,
    scenario: Scenario,
    *,
    federated: Metrics,
    centralized: Metrics,
    federated_seconds: float,
    centralized_seconds: float,
    summary: dict[str, Any],
    wall_seconds: float,
    mode: str,
    repeats: list[float] | None = None,
) -> dict[str, Any]:
    """The results.json document (its keys are read by later tooling: keep them stable)."""
    fed = {**_metric_dict(federated), "seconds": round(federated_seconds, 3)}
    cen = {**_metric_dict(centralized), "seconds": round(centralized_seconds, 3)}
    return {
        "study": {"id": study.study_id, "question": study.question},
        "mode": mode,
        "federated": fed,
        "centralized": cen,
        "delta": compare(federated, centralized),
        "rounds": summary["rounds"],
        "totals": summary["totals"],
        "wall_seconds": round(wall_seconds, 3),
        "repeats": {"seconds": [round(s, 3) for s in repeats], "best_seconds": round(min(repeats), 3)}
        if repeats
        else None,
        "privacy": _privacy(study, summary["rounds"]),
        "parties": [{"name": p.name, "role": p.role.value} for p in study.parties],
        "dataset": scenario.describe(study),
        "config": _config(study),
    }


def _privacy(study: StudyConfig, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """What each hospital spent, round by round, as the hospitals' own accountants report it."""
    p = study.privacy
    per_round = [{"round": r["round"], "epsilon": r.get("epsilon", {})} for r in rounds]
    final = [eps for r in per_round for eps in r["epsilon"].values()]
    return {
        "mechanism": p.mechanism.value,
        "secure_aggregation": p.secure_aggregation,
        "noise_multiplier": p.noise_multiplier if p.mechanism.value != "none" else None,
        "clip_norm": p.clip_norm if p.mechanism.value != "none" else None,
        "delta": p.delta if p.mechanism.value != "none" else None,
        "epsilon": max(final) if final else None,
        "per_round": per_round,
    }


def _metric_dict(m: Metrics) -> dict[str, Any]:
    return {"auc": m.auc, "ks": m.ks, "accuracy": m.accuracy, "confusion": m.confusion}


def _config(study: StudyConfig) -> dict[str, Any]:
    out = asdict(study.training)
    return {k: (v.value if hasattr(v, "value") else v) for k, v in out.items()}


def _finite(value: Any) -> Any:
    """NaN/Inf (e.g. AUC of a one-class split) become null: results.json stays valid JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_run(
    out_dir: Path,
    results: dict[str, Any],
    *,
    federated_params: Arrays,
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / "results.json.tmp"
    tmp.write_text(json.dumps(_finite(results), indent=1, allow_nan=False), encoding="utf-8")
    os.replace(tmp, out_dir / "results.json")
    save_file(federated_params, str(out_dir / "model.safetensors"))
    write_report(out_dir / "report.html", results, curves)


def print_comparison(results: dict[str, Any], console: Console) -> None:
    fed, cen, delta = results["federated"], results["centralized"], results["delta"]
    table = Table(title=f"{results['study']['id']}: federated vs centralized (test split)")
    for column in ("", "federated", "centralized", "|Δ|"):
        table.add_column(column, justify="right")
    for key, label in (("auc", "AUC"), ("ks", "KS"), ("accuracy", "accuracy")):
        table.add_row(label, f"{fed[key]:.4f}", f"{cen[key]:.4f}", f"{delta[key]:.4f}")
    table.add_row("train time (s)", f"{fed['seconds']:.1f}", f"{cen['seconds']:.1f}", "")
    rounds = results["rounds"]
    if rounds:
        per_round = np.mean([r["server"]["bytes_sent"] + r["server"]["bytes_received"] for r in rounds])
        table.add_row("bytes / round (server)", f"{per_round / 1e6:.2f} MB", "—", "")
    console.print(table)
    console.print(f"wall time {results['wall_seconds']:.1f} s")
