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

from medfed.core.config import Mechanism, StudyConfig
from medfed.core.goals import RELEASES, Criterion
from medfed.core.messages import Arrays
from medfed.data import images_to_float
from medfed.evaluation import Metrics, classification_metrics, compare, write_report
from medfed.models import build_model, load_arrays
from medfed.orchestration.scenario import Scenario
from medfed.privacy.accounting import TightAccountant
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
        "adjacency": _ADJACENCY.get(p.mechanism.value),
        "epsilon_replace_one": _replace_one_epsilon(study, per_round),
        "per_round": per_round,
    }


_ADJACENCY = {
    "dp_sgd": "add or remove one record (Poisson-sampled batches)",
    # As DP-FedAvg is usually stated (McMahan et al. 2018): who takes part is public, what a
    # hospital contributes is hidden.
    "dp_fedavg": "one hospital's update replaced by zero (its data hidden, its participation public)",
}


def _replace_one_epsilon(study: StudyConfig, per_round: list[dict[str, Any]]) -> float | None:
    """Client-level ε if one hospital's update may be swapped for any other: twice the
    sensitivity, i.e. half the noise multiplier, over the rounds the busiest hospital took part in."""
    p = study.privacy
    if p.mechanism is not Mechanism.DP_FEDAVG:
        return None
    rounds = max((sum(name in r["epsilon"] for r in per_round) for name in study.hospitals), default=0)
    if rounds == 0:
        return None
    accountant = TightAccountant()
    accountant.step(noise_multiplier=p.noise_multiplier / 2, sample_rate=1.0, steps=rounds)
    return accountant.epsilon(p.delta)


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


def measured_metrics(results: dict[str, Any]) -> dict[str, float | None]:
    """Every goal metric (core.goals.METRICS) as measured in ``results``; ``None`` when absent."""
    fed, cen = results.get("federated") or {}, results.get("centralized") or {}
    privacy = results.get("privacy") or {}
    attack = privacy.get("membership_inference") or {}

    def num(value: Any) -> float | None:
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    def diff(key: str) -> float | None:
        a, b = num(fed.get(key)), num(cen.get(key))
        return None if a is None or b is None else a - b

    accuracy = num(fed.get("accuracy"))
    return {
        "auc": num(fed.get("auc")),
        "ks": num(fed.get("ks")),
        "accuracy": accuracy,
        "misdiagnosis_rate": None if accuracy is None else 1.0 - accuracy,
        "centralized_auc": num(cen.get("auc")),
        "centralized_ks": num(cen.get("ks")),
        "centralized_accuracy": num(cen.get("accuracy")),
        "delta_auc": diff("auc"),
        "delta_ks": diff("ks"),
        "delta_accuracy": diff("accuracy"),
        "epsilon": num(privacy.get("epsilon")),
        "mia_auc": num(attack.get("auc")),
        "mia_advantage": num(attack.get("advantage")),
        "train_seconds": num(fed.get("seconds")),
        "wall_seconds": num(results.get("wall_seconds")),
    }


def judge_criteria(criteria: tuple[Criterion, ...], results: dict[str, Any]) -> list[dict[str, Any]]:
    """One verdict per criterion: the measured value and pass/fail; unmeasured counts as fail."""
    measured = measured_metrics(results)
    verdicts = []
    for c in criteria:
        value = measured.get(c.metric)
        verdicts.append({
            "criterion": c.text,
            "metric": c.metric,
            "measured": None if value is None else (abs(value) if c.absolute else value),
            "passed": value is not None and c.holds(value),
            **({} if value is not None else {"reason": "not measured in this run"}),
        })
    return verdicts


def goals_verdict(study: StudyConfig, results: dict[str, Any], preflight: dict[str, Any]) -> dict[str, Any]:
    """The ``goals`` section of results.json (5.2a-e): question, verdicts, enforced goals, grants."""
    goals = study.goals
    verdicts = judge_criteria(goals.parsed, results)
    p, d = goals.privacy, goals.data
    return {
        "question": goals.question,
        "direction": goals.direction,
        "criteria": verdicts,
        "passed": all(v["passed"] for v in verdicts),
        "privacy": {
            "deidentified_required": p.deidentified,
            "max_epsilon": p.max_epsilon,
            "require": list(p.require),
            "limits": p.limits,
            **preflight.get("privacy", {}),
        },
        "data": {
            "modality": d.modality,
            "min_per_class": d.min_per_class,
            "min_cell": d.min_cell,
            "sources": d.sources,
            **preflight.get("data", {}),
        },
        "sharing": {party: list(items) for party, items in goals.sharing},
    }


def print_goals(results: dict[str, Any], console: Console) -> None:
    goals = results.get("goals") or {}
    verdicts = goals.get("criteria") or []
    if not verdicts:
        console.print("goals: no success criteria declared")
        return
    table = Table(title="success criteria (5.2b)")
    for column in ("criterion", "measured", "verdict"):
        table.add_column(column, justify="right")
    for v in verdicts:
        shown = "—" if v["measured"] is None else f"{v['measured']:.4f}"
        table.add_row(v["criterion"], shown, "[green]PASS[/]" if v["passed"] else "[red]FAIL[/]")
    console.print(table)
    console.print("goals: " + ("all criteria met" if goals.get("passed") else "NOT all criteria met"))


def release_for(study: StudyConfig, party: str, results: dict[str, Any]) -> dict[str, Any]:
    """The part of ``results`` the sharing agreement grants ``party`` (5.2e).

    Without a declared agreement every party sees everything (the study as before); with
    one, only the granted results.json sections, and the study's identity.
    """
    granted = study.goals.releases(party)
    if granted is None:
        return dict(results)
    keys = {"study"} | {k for item in granted for k in RELEASES[item]}
    return {k: v for k, v in results.items() if k in keys}


def may_receive(study: StudyConfig, party: str, item: str) -> bool:
    granted = study.goals.releases(party)
    return granted is None or item in granted


def _write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_finite(document), indent=1, allow_nan=False), encoding="utf-8")
    os.replace(tmp, path)


def write_run(
    out_dir: Path,
    results: dict[str, Any],
    *,
    federated_params: Arrays,
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    study: StudyConfig | None = None,
) -> None:
    """The run folder (the initiator's); with a sharing agreement, also ``releases/<party>/``
    holding only what each party is granted: its results.json sections, the model, the report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / "results.json", results)
    save_file(federated_params, str(out_dir / "model.safetensors"))
    report = write_report(out_dir / "report.html", results, curves)
    if study is None or not study.goals.sharing:
        return
    members = {p.name for p in study.parties}
    for party, _ in study.goals.sharing:
        if party not in members:
            continue
        folder = out_dir / "releases" / party
        _write_json(folder / "results.json", release_for(study, party, results))
        if may_receive(study, party, "model"):
            save_file(federated_params, str(folder / "model.safetensors"))
        if may_receive(study, party, "report"):
            (folder / "report.html").write_bytes(report.read_bytes())  # aggregates only; rendered once


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
