"""Model iteration (standard 5.7.3.5): federated k-fold cross-validation and hyper-parameter search.

Both run the study in simulation. In cross-validation each hospital splits its *own*
training data (train + validation records) into k folds with a seeded permutation; fold i
trains federated on the other folds and validates on fold i, at every hospital at once. A
search trains one federated model per candidate setting and validates on each hospital's
validation split. Each run records per-round training and validation loss/accuracy/AUC,
the global model's final train and validation AUC, and a diagnosis (under-fitting, over-
fitting, or a good fit); :func:`cross_validate` and :func:`search` write them with their
curves as ``iteration.json`` and ``iteration.html``.

Selection among candidates may be private: the exponential mechanism (medfed.privacy.dp)
with utility = federated validation AUC, whose sensitivity is stated with the result.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medfed.core.config import StrategyName, StudyConfig
from medfed.core.goals import GoalRefusedError
from medfed.core.messages import Arrays
from medfed.data import LocalDataset, Split, images_to_float
from medfed.errors import ConfigError
from medfed.evaluation.ranking import macro_auc
from medfed.evaluation.report import write_iteration_report
from medfed.models import build_model, load_arrays
from medfed.orchestration.runs import check_goals, planned_accountants, subsample
from medfed.orchestration.scenario import Scenario, prepare_scenario
from medfed.privacy.accounting import TightAccountant
from medfed.privacy.dp import RandomSource, exponential_mechanism
from medfed.simulation import simulate
from medfed.training import as_tensors, predict_proba, resolve_device

# Hyper-parameters a search may vary, with the type each value takes.
SEARCHABLE: dict[str, type] = {
    "lr": float, "local_epochs": int, "mu": float, "proximal_mu": float,
    "batch_size": int, "rounds": int, "weight_decay": float,
}
# Keys of ``params`` that steer the run rather than the model.
_RUN_KEYS = {"fold", "k", "trial", "data_dir", "max_train", "device"}
OVERFIT_GAP = 0.10  # train AUC above validation AUC by more than this: over-fitting
UNDERFIT_AUC = 0.70  # train AUC below this: the model has not learned the training data


def _fold_datasets(scenario: Scenario, fold: int, k: int, seed: int) -> dict[str, LocalDataset]:
    """Each hospital's fold ``fold`` of ``k`` as validation, the other folds as training."""
    if not (isinstance(k, int) and k >= 2 and isinstance(fold, int) and 0 <= fold < k):
        raise ConfigError(f"cross-validation needs k >= 2 and 0 <= fold < k, not fold={fold}, k={k}")
    datasets = {}
    for index, (name, ds) in enumerate(scenario.datasets.items()):
        images = np.concatenate([ds.train.images, ds.val.images])
        labels = np.concatenate([ds.train.labels, ds.val.labels])
        if len(labels) < k:
            raise ConfigError(f"{name} holds too few records for {k} folds; lower k")
        order = np.random.default_rng(seed + index).permutation(len(labels))
        parts = np.array_split(order, k)
        val = np.sort(parts[fold])
        train = np.sort(np.concatenate([p for i, p in enumerate(parts) if i != fold]))
        datasets[name] = replace(
            ds, train=Split(images[train], labels[train]), val=Split(images[val], labels[val])
        )
    return datasets


def _score(study: StudyConfig, scenario: Scenario, params: Arrays, split: Split, device: torch.device) -> dict[str, float]:
    """Loss, accuracy and macro AUC of the global model on one hospital's split."""
    images = images_to_float(split.images, dims=scenario.dims)
    model = build_model(
        study.training.model, in_channels=images.shape[1], n_classes=scenario.n_classes,
        dims=scenario.dims, image_size=study.data.size,
    ).to(device)
    load_arrays(model, params)
    x, _ = as_tensors(images, split.labels, device)
    proba = predict_proba(model, x)
    picked = np.clip(proba[np.arange(len(split.labels)), split.labels], 1e-12, 1.0)
    return {
        "loss": float(-np.log(picked).mean()),
        "accuracy": float((proba.argmax(1) == split.labels).mean()),
        "auc": float(macro_auc(split.labels, proba)),
        "n": float(len(split.labels)),
    }


def _federated_score(
    study: StudyConfig, scenario: Scenario, params: Arrays, datasets: Mapping[str, LocalDataset],
    which: str, device: torch.device,
) -> dict[str, float]:
    """What the hospitals report together: each scores its own split, weighted by size."""
    scores = [_score(study, scenario, params, getattr(ds, which), device) for ds in datasets.values()]
    total = sum(s["n"] for s in scores)
    out = {}
    for key in ("loss", "accuracy", "auc"):
        pairs = [(s[key], s["n"]) for s in scores if math.isfinite(s[key])]
        out[key] = sum(v * n for v, n in pairs) / sum(n for _, n in pairs) if pairs else math.nan
    out["n"] = total
    return out


def auc_sensitivity(datasets: Mapping[str, LocalDataset]) -> float:
    """How much one validation record can move the federated validation AUC.

    Each hospital's AUC averages over its (positive, negative) pairs, so replacing one of its
    records (label kept) moves it by at most 1 / (its smallest one-vs-rest class side); the
    federated AUC weights hospital h by n_h / N. The bound is the largest weighted term.
    Validation set sizes and class counts are treated as public (they are in the data card).
    """
    sizes = {name: len(ds.val.labels) for name, ds in datasets.items()}
    total = sum(sizes.values())
    bound = 0.0
    for name, ds in datasets.items():
        counts = np.bincount(ds.val.labels, minlength=ds.n_classes)
        sides = [min(int(c), sizes[name] - int(c)) for c in counts if c > 0]
        smallest = min(sides) if sides and min(sides) > 0 else 1
        bound = max(bound, (sizes[name] / total) / smallest)
    return bound


def diagnose(final: Mapping[str, float], rounds: Sequence[Mapping[str, float]]) -> dict[str, str]:
    """Under-fitting, over-fitting or a good fit, with the evidence."""
    train_auc, val_auc = final.get("train_auc", math.nan), final.get("val_auc", math.nan)
    losses = [r["val_loss"] for r in rounds if math.isfinite(r.get("val_loss", math.nan))]
    rising = len(losses) >= 3 and losses[-1] > 1.1 * min(losses)
    if math.isfinite(train_auc) and train_auc < UNDERFIT_AUC:
        return {"fit": "under-fitting", "why": f"train AUC {train_auc:.3f} < {UNDERFIT_AUC}: more rounds, epochs or a larger lr"}
    if math.isfinite(train_auc) and math.isfinite(val_auc) and train_auc - val_auc > OVERFIT_GAP:
        return {"fit": "over-fitting", "why": f"train AUC exceeds validation AUC by {train_auc - val_auc:.3f} > {OVERFIT_GAP}"}
    if rising:
        return {"fit": "over-fitting", "why": "validation loss rose more than 10% above its minimum"}
    return {"fit": "good fit", "why": "train and validation AUC agree within the gap"}


def _run(
    study: StudyConfig, scenario: Scenario, datasets: dict[str, LocalDataset], device: torch.device
) -> dict[str, Any]:
    start = time.perf_counter()
    outcome = simulate(study, datasets, device=device)
    rounds = []
    for entry in outcome.summary["rounds"]:
        m = entry.get("metrics", {})
        rounds.append({"round": entry["round"], **{
            key: float(m.get(key, math.nan))
            for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "val_auc")
        }})
    train = _federated_score(study, scenario, outcome.params, datasets, "train", device)
    val = _federated_score(study, scenario, outcome.params, datasets, "val", device)
    final = {
        "train_loss": train["loss"], "val_loss": val["loss"], "train_auc": train["auc"],
        "val_auc": val["auc"], "train_accuracy": train["accuracy"], "val_accuracy": val["accuracy"],
    }
    server = outcome.summary["totals"]["server"]
    return {
        "rounds": rounds, "final": final, "diagnosis": diagnose(final, rounds),
        "sensitivity": auc_sensitivity(datasets),
        # The cost of the run (5.7.3.5 asks for cost-aware iteration): time and traffic.
        "seconds": round(time.perf_counter() - start, 3),
        "bytes": int(server["bytes_sent"] + server["bytes_received"]),
    }


def _scenario(study: StudyConfig, params: Mapping[str, Any]) -> Scenario:
    data_dir = params.get("data_dir")
    scenario = prepare_scenario(study, data_dir=Path(data_dir) if data_dir else None)
    scenario = subsample(scenario, params.get("max_train"), study.training.seed)
    check_goals(study, scenario)  # privacy goals hold for every fold and trial too
    return scenario


def _write(out_dir: Path, name: str, document: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / name).write_text(json.dumps(_plain(document), indent=1), encoding="utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run_cv_fold(study: StudyConfig, params: Mapping[str, Any], out_dir: Path, *, scenario: Scenario | None = None) -> dict[str, Any]:
    """Train and validate fold ``params["fold"]`` of ``params["k"]``; writes ``fold-<i>.json``.

    Optional ``params``: ``data_dir``, ``max_train`` (records per hospital), ``device``.
    Returns the rounds (train/validation loss, accuracy, AUC), the final global-model
    scores, the diagnosis and the AUC's sensitivity.
    """
    fold, k = int(params["fold"]), int(params["k"])
    # A fold may also carry hyper-parameters (e.g. rounds); other keys steer the run.
    study = apply_params(study, {key: v for key, v in params.items() if key in SEARCHABLE})
    scenario = scenario or _scenario(study, params)
    datasets = _fold_datasets(scenario, fold, k, study.training.seed)
    result = {"kind": "cv", "label": f"fold {fold + 1}/{k}", "fold": fold, "k": k,
              **_run(study, scenario, datasets, resolve_device(str(params.get("device", "cpu"))))}
    _write(Path(out_dir), f"fold-{fold}.json", result)
    return result


def apply_params(study: StudyConfig, params: Mapping[str, Any]) -> StudyConfig:
    """The study with hyper-parameters from ``params``; ``mu`` > 0 selects FedProx."""
    changes: dict[str, Any] = {}
    for key, value in params.items():
        if key in _RUN_KEYS:
            continue
        if key not in SEARCHABLE:
            raise ConfigError(f"unknown hyper-parameter {key!r}; choose from: {', '.join(SEARCHABLE)}")
        changes["proximal_mu" if key == "mu" else key] = SEARCHABLE[key](value)
    if changes.get("proximal_mu", 0) > 0:
        changes["strategy"] = StrategyName.FEDPROX
    elif "proximal_mu" in changes and study.training.strategy is StrategyName.FEDPROX:
        changes["strategy"] = StrategyName.FEDAVG
    return study.with_training(**changes)


def run_hp_trial(study: StudyConfig, params: Mapping[str, Any], out_dir: Path, *, scenario: Scenario | None = None) -> dict[str, Any]:
    """Train with the hyper-parameters in ``params`` and validate on each hospital's
    validation split; writes ``trial-<n>.json``. Keys as :data:`SEARCHABLE`, plus ``trial``."""
    trial_study = apply_params(study, params)
    if scenario is None:
        scenario = _scenario(trial_study, params)
    else:
        check_goals(trial_study, scenario)  # more rounds or smaller batches spend more epsilon
    if any(len(ds.val.labels) == 0 for ds in scenario.datasets.values()):
        raise ConfigError("a search validates on each hospital's validation split: set [data] val_fraction > 0")
    hyper = {k: v for k, v in params.items() if k not in _RUN_KEYS}
    index = int(params.get("trial", 0))
    label = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in hyper.items())
    result = {"kind": "search", "label": f"trial {index + 1}: {label}", "trial": index, "params": hyper,
              **_run(trial_study, scenario, dict(scenario.datasets), resolve_device(str(params.get("device", "cpu"))))}
    _write(Path(out_dir), f"trial-{index}.json", result)
    return result


def cross_validate(
    study: StudyConfig, k: int = 5, *, out_dir: Path, data_dir: Path | None = None,
    max_train: int | None = None, device: str = "cpu",
) -> dict[str, Any]:
    """All k folds; writes ``iteration.json`` and ``iteration.html`` (curves per fold)."""
    if k < 2:
        raise ConfigError(f"k must be >= 2, not {k}")
    base = {"k": k, "data_dir": data_dir, "max_train": max_train, "device": device}
    scenario = _scenario(study, base)
    spent = iteration_epsilon([study] * k, scenario)
    runs = [run_cv_fold(study, {**base, "fold": i}, out_dir, scenario=scenario) for i in range(k)]
    aucs = np.array([r["final"]["val_auc"] for r in runs], dtype=float)
    summary = {"mean_val_auc": float(np.nanmean(aucs)), "std_val_auc": float(np.nanstd(aucs)), "epsilon_total": spent}
    return _finish(study, "cv", runs, summary, Path(out_dir))


def parse_space(specs: Sequence[str]) -> dict[str, list[Any]]:
    """``["lr=1e-3,3e-3", "local_epochs=1,2"]`` → ``{"lr": [0.001, 0.003], ...}``;
    a ``low:high`` value is a range for random search."""
    space: dict[str, list[Any]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        if not sep or key not in SEARCHABLE or not values.strip():
            raise ConfigError(f"--space {spec!r}: write NAME=V1,V2 with NAME one of {', '.join(SEARCHABLE)}")
        try:
            space[key] = [v.strip() if ":" in v else SEARCHABLE[key](float(v)) for v in values.split(",")]
        except ValueError:
            raise ConfigError(f"--space {spec!r}: values must be numbers (or low:high ranges)") from None
    return space


def _candidates(space: Mapping[str, list[Any]], mode: str, trials: int | None, seed: int) -> list[dict[str, Any]]:
    if not space:
        raise ConfigError("the search space is empty: give at least one NAME=V1,V2")
    keys = list(space)
    if mode == "grid":
        if any(isinstance(v, str) for vs in space.values() for v in vs):
            raise ConfigError("ranges (low:high) need mode 'random'; a grid takes listed values")
        grid = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*space.values())]
        return grid[:trials] if trials else grid
    if mode != "random":
        raise ConfigError(f"search mode must be 'grid' or 'random', not {mode!r}")
    if not trials or trials < 1:
        raise ConfigError("random search needs trials >= 1")
    rng = np.random.default_rng(seed)
    return [{key: _draw(key, space[key], rng) for key in keys} for _ in range(trials)]


def _draw(key: str, values: list[Any], rng: np.random.Generator) -> Any:
    value = values[int(rng.integers(len(values)))]
    if not isinstance(value, str):
        return value
    low, high = (float(v) for v in value.split(":"))
    if not 0 < low <= high:
        raise ConfigError(f"range {value!r} for {key}: need 0 < low <= high")
    if SEARCHABLE[key] is int:
        return int(rng.integers(int(low), int(high) + 1))
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))  # log-uniform


def search(
    study: StudyConfig, space: Mapping[str, list[Any]], mode: str = "grid", trials: int | None = None,
    private: bool = False, epsilon: float = 1.0, *, out_dir: Path, data_dir: Path | None = None,
    max_train: int | None = None, device: str = "cpu", rng: RandomSource | None = None,
) -> dict[str, Any]:
    """Try each candidate setting and select the best by federated validation AUC.

    ``private=True`` selects with the exponential mechanism at ``epsilon`` (utility =
    validation AUC, sensitivity from :func:`auc_sensitivity`); otherwise the best score wins.
    Writes ``iteration.json`` and ``iteration.html``.
    """
    candidates = _candidates(space, mode, trials, study.training.seed)
    cap = study.goals.privacy.max_epsilon
    if private and cap is not None and epsilon > cap:
        raise GoalRefusedError(f"private selection at epsilon {epsilon:g} exceeds the goal's max_epsilon {cap:g}")
    base = {"data_dir": data_dir, "max_train": max_train, "device": device}
    scenario = _scenario(study, base)
    spent = iteration_epsilon([apply_params(study, c) for c in candidates], scenario, extra=epsilon if private else 0.0)
    runs = [run_hp_trial(study, {**base, **c, "trial": i}, out_dir, scenario=scenario) for i, c in enumerate(candidates)]
    scores = np.array([r["final"]["val_auc"] for r in runs], dtype=float)
    scores = np.where(np.isfinite(scores), scores, 0.0)  # an undefined AUC scores as the worst
    best = int(np.argmax(scores))
    selection: dict[str, Any] = {"mode": mode, "best_by_score": best, "utility": "federated validation AUC"}
    if private:
        sensitivity = max(r["sensitivity"] for r in runs)
        chosen = exponential_mechanism(runs, scores, sensitivity=sensitivity, epsilon=epsilon, rng=rng)
        selection.update(mechanism="exponential", epsilon=epsilon, sensitivity=sensitivity, chosen=chosen)
    else:
        selection.update(mechanism="argmax", chosen=best)
    selection["params"] = runs[selection["chosen"]]["params"]
    selection["epsilon_total"] = spent
    return _finish(study, "search", runs, selection, Path(out_dir))


def iteration_epsilon(studies: list[StudyConfig], scenario: Scenario, *, extra: float = 0.0) -> float | None:
    """The largest ε any hospital spends over all of ``studies`` (each fold or trial is a full
    run on the same data: their releases compose), plus ``extra`` (a pure-ε selection, added by
    basic composition); ``None`` without DP. Refuses, before any run, a total over the goals' cap."""
    merged: dict[str, TightAccountant] = {}
    for each in studies:
        for name, accountant in planned_accountants(each, dict(scenario.datasets)).items():
            if accountant is None:
                return None
            total = merged.setdefault(name, TightAccountant())
            for step in accountant.history:
                total.step(noise_multiplier=step.noise_multiplier, sample_rate=step.sample_rate, steps=step.steps)
    delta = studies[0].privacy.delta
    worst = max((a.epsilon(delta) for a in merged.values()), default=0.0) + extra
    cap = studies[0].goals.privacy.max_epsilon
    if cap is not None and worst > cap:
        raise GoalRefusedError(
            f"the {len(studies)} runs of this iteration would spend epsilon {worst:.3f} at the most exposed "
            f"hospital (they compose on the same data), above the goals' max_epsilon {cap:g}; use fewer "
            "folds or trials, or more noise"
        )
    return worst


def _finish(study: StudyConfig, kind: str, runs: list[dict[str, Any]], summary: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    document = {"study": {"id": study.study_id, "question": study.question}, "kind": kind,
                "runs": runs, "summary": summary}
    _write(out_dir, "iteration.json", document)
    write_iteration_report(out_dir / "iteration.html", _plain(document))
    return document
