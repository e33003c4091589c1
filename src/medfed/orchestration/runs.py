"""A complete run — data, federated study, centralized baseline, comparison — in one folder.

``mode="processes"`` deploys the dispatcher and each hospital as separate processes
over mutual TLS; ``mode="simulation"`` runs the same code in this process.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from medfed.core.config import (
    CryptoSuiteName,
    Encryption,
    Mechanism,
    StudyConfig,
    dump_study,
    load_study,
)
from medfed.core.goals import check_data_requirements, check_privacy_goals
from medfed.data import LocalDataset, Split, dataset_info, split_summary
from medfed.data.feature_tables import IMAGE_STATISTICS_SOURCES
from medfed.data.prepare import suppress
from medfed.data.radiomics import RADIOMICS_TABLES
from medfed.errors import ConfigError, DataError
from medfed.orchestration.baseline import train_centralized
from medfed.orchestration.consent import approve_all
from medfed.orchestration.membership import membership_inference
from medfed.orchestration.processes import Launch, run_processes
from medfed.orchestration.results import (
    build_results,
    evaluate_params,
    goals_verdict,
    print_comparison,
    print_goals,
    write_run,
)
from medfed.orchestration.scenario import Scenario, prepare_scenario, write_hospital_files
from medfed.privacy.accounting import TightAccountant
from medfed.provision import provision_study
from medfed.simulation import StudyOutcome, simulate
from medfed.training import resolve_device

DEMO_STUDY = Path(__file__).with_name("demo_study.toml")


@dataclass(frozen=True)
class RunOptions:
    study_path: Path = DEMO_STUDY
    out_dir: Path | None = None
    data_dir: Path | None = None
    device: str = "auto"
    mode: str = "processes"
    repeat: int = 1
    rounds: int | None = None
    max_train: int | None = None  # keep at most this many training records per hospital (quick checks)
    # Called after each federated round with the finished fraction of the run (0.05-0.9), e.g. by a task worker.
    on_progress: Callable[[float], None] | None = None


def default_out_dir() -> Path:
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")


def _round_progress(progress: Progress, task: Any, total: int, options: RunOptions, attempt: int) -> Any:
    def on_round(entry: dict[str, Any]) -> None:
        auc = entry.get("metrics", {}).get("val_auc")
        label = f"round {entry['round']}/{total}" + (f" · val AUC {auc:.3f}" if auc is not None else "")
        progress.update(task, advance=1, description=label)
        if options.on_progress is not None:
            done = (attempt + min(int(entry["round"]), total) / max(total, 1)) / max(options.repeat, 1)
            options.on_progress(0.05 + 0.85 * done)

    return on_round


def run_study(options: RunOptions, console: Console | None = None) -> dict[str, Any]:
    """Run everything and write ``results.json``, ``model.safetensors`` and ``report.html``."""
    console = console or Console(stderr=True)
    wall_start = time.perf_counter()
    study: StudyConfig = load_study(options.study_path)
    if options.rounds is not None:
        study = study.with_training(rounds=options.rounds)
    out = options.out_dir or default_out_dir()
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(options.device)
    console.rule(f"[bold]{study.study_id}[/] · {len(study.hospitals)} hospitals · {options.mode} · {device}")

    console.print("1/4 data: loading and splitting across hospitals")
    scenario = subsample(prepare_scenario(study, data_dir=options.data_dir), options.max_train, study.training.seed)
    for name, counts in scenario.summary.items():
        per_class = suppress({k: v for k, v in counts.items() if k != "total"}, study.goals.data.min_cell)
        console.print(f"    {name}: {per_class} of {counts['total']} (small counts hidden)")
    preflight = check_goals(study, scenario)  # refuses here, before any training
    console.print(f"    goals: privacy and data requirements met ({preflight['summary']})")

    console.print("2/4 federated training")
    if options.repeat < 1:
        raise ConfigError(f"--repeat must be >= 1, not {options.repeat}")
    outcomes: list[StudyOutcome] = []
    for attempt in range(options.repeat):
        with Progress(
            TextColumn("    {task.description}"), BarColumn(), TimeElapsedColumn(), console=console
        ) as progress:
            task = progress.add_task("starting", total=study.training.rounds)
            on_round = _round_progress(progress, task, study.training.rounds, options, attempt)
            outcomes.append(_federated(study, options, out, attempt, scenario, device, on_round))
        console.print(f"    run {attempt + 1}: {outcomes[-1].wall_seconds:.1f} s")
    timings = [o.wall_seconds for o in outcomes]
    # Report the best run (A.2) with its own rounds, traffic and model.
    outcome = min(outcomes, key=lambda o: o.wall_seconds)

    console.print("3/4 centralized baseline on the pooled training data")
    baseline = train_centralized(study, scenario, device=device)

    console.print("4/4 evaluation on the test split")
    fed_metrics, fed_proba = evaluate_params(study, scenario, outcome.params, device=device)
    cen_metrics, cen_proba = evaluate_params(study, scenario, baseline.params, device=device)
    results = build_results(
        study,
        scenario,
        federated=fed_metrics,
        centralized=cen_metrics,
        federated_seconds=min(timings),
        centralized_seconds=baseline.seconds,
        summary=outcome.summary,
        wall_seconds=time.perf_counter() - wall_start,
        mode=options.mode,
        repeats=timings if options.repeat > 1 else None,
    )
    results["privacy"]["membership_inference"] = membership_inference(
        study, scenario, outcome.params, device=device
    )
    curves = {
        "federated": (scenario.test.labels, fed_proba),
        "centralized": (scenario.test.labels, cen_proba),
    }
    results["goals"] = goals_verdict(study, results, preflight)
    write_run(out, results, federated_params=outcome.params, curves=curves, study=study)
    print_comparison(results, console)
    print_goals(results, console)
    console.print(f"run folder: {out}  (results.json, model.safetensors, report.html)")
    if options.mode == "processes":
        console.print(f"evidence: medfed audit {out}")
    return results


def _federated(
    study: StudyConfig,
    options: RunOptions,
    out: Path,
    attempt: int,
    scenario: Any,
    device: Any,
    on_round: Any,
) -> StudyOutcome:
    if options.mode == "simulation":
        return simulate(study, scenario.datasets, device=device, on_round=on_round)
    work = out / "deployment" / f"run-{attempt + 1}"
    study_copy = out / "study.toml"
    study_copy.write_text(dump_study(study), encoding="utf-8")
    kits = out / "kits"
    grants = out / "grants.db"
    if not kits.exists():
        provision_study(study, kits)
    if study.security.require_grants and attempt == 0:
        # The consent step: each hospital's data owner signs the study's data-use application.
        signed = approve_all(study, kits, grants)
        if signed:
            Console(stderr=True).print(
                f"    consent: {len(signed)} data owners signed their data-use grants ({study.security.suite.value})"
            )
    data_paths = write_hospital_files(scenario, out / "hospitals") if attempt == 0 else {
        name: out / "hospitals" / name / "data.npz" for name in study.hospitals
    }
    threads = max(1, (os.cpu_count() or 1) // len(study.hospitals))
    launch = Launch(
        study_copy, kits, data_paths, work, device=options.device, node_threads=threads, grants_path=grants
    )
    return run_processes(study, launch, on_round=on_round)



# The imaging modality of each registered dataset (MedMNIST v3 paper); None: not recorded.
_MODALITY = {
    "pathmnist": "colon pathology", "chestmnist": "chest x-ray", "dermamnist": "dermatoscope",
    "octmnist": "retinal oct", "pneumoniamnist": "chest x-ray", "retinamnist": "fundus camera",
    "breastmnist": "breast ultrasound", "bloodmnist": "blood cell microscope",
    "tissuemnist": "kidney cortex microscope", "organamnist": "abdominal ct",
    "organcmnist": "abdominal ct", "organsmnist": "abdominal ct", "organmnist3d": "abdominal ct",
    "nodulemnist3d": "chest ct", "adrenalmnist3d": "abdominal ct", "fracturemnist3d": "chest ct",
    "vesselmnist3d": "brain mra", "synapsemnist3d": "electron microscope",
}


def subsample(scenario: Scenario, max_train: int | None, seed: int) -> Scenario:
    """At most ``max_train`` training records per hospital (and a matching share of its
    validation records), drawn with ``seed``; ``None`` keeps everything."""
    if max_train is None:
        return scenario
    if max_train < 1:
        raise ConfigError(f"max_train must be >= 1, not {max_train}")
    rng = np.random.default_rng(seed)
    datasets = {}
    for name, ds in scenario.datasets.items():
        keep = min(1.0, max_train / max(1, len(ds.train.labels)))
        datasets[name] = replace(ds, train=_take(ds.train, max_train, rng), val=_take(
            ds.val, max(1, math.ceil(keep * len(ds.val.labels))), rng
        ))
    labels = {n: np.concatenate([d.train.labels, d.val.labels]) for n, d in datasets.items()}
    return replace(scenario, datasets=datasets, summary=split_summary(labels, scenario.n_classes))


def _take(split: Split, n: int, rng: np.random.Generator) -> Split:
    pick = np.sort(rng.permutation(len(split.labels))[:n])
    return Split(split.images[pick], split.labels[pick])


def study_mechanisms(study: StudyConfig) -> set[str]:
    """The core.goals.REQUIRABLE names this study's configuration uses."""
    p, used = study.privacy, set()
    if p.secure_aggregation:
        used.add("secure_aggregation")
    if p.mechanism is not Mechanism.NONE:
        used |= {"differential_privacy", p.mechanism.value}
    if p.encryption is not Encryption.NONE:
        used.add("encryption")
    if study.security.require_grants:
        used.add("consent")
    if study.security.suite is CryptoSuiteName.GM:
        used.add("gm_crypto")
    return used


def planned_accountants(study: StudyConfig, datasets: dict[str, LocalDataset]) -> dict[str, TightAccountant | None]:
    """Each hospital's accountant after every planned round, stepped as its node will
    (medfed.node.privacy); ``None`` without DP."""
    p, t = study.privacy, study.training
    plans: dict[str, TightAccountant | None] = {}
    for name, ds in datasets.items():
        if p.mechanism is Mechanism.NONE:
            plans[name] = None
            continue
        accountant = TightAccountant()
        if p.mechanism is Mechanism.DP_SGD:
            rate = min(1.0, t.batch_size / max(1, len(ds.train.labels)))
            steps = max(1, round(t.local_epochs / rate))
        else:  # client-level: every hospital in every round, one release per round
            rate, steps = 1.0, 1
        accountant.step(noise_multiplier=p.noise_multiplier, sample_rate=rate, steps=steps * t.rounds)
        plans[name] = accountant
    return plans


def planned_epsilon(study: StudyConfig, datasets: dict[str, LocalDataset]) -> dict[str, float]:
    """Each hospital's epsilon after every planned round: RDP of the subsampled Gaussian, or the
    exact Gaussian curve when every hospital takes part in every round; ``inf`` without DP."""
    delta = study.privacy.delta
    return {
        name: math.inf if accountant is None else accountant.epsilon(delta)
        for name, accountant in planned_accountants(study, datasets).items()
    }


def data_deidentified(study: StudyConfig, scenario: Scenario) -> dict[str, bool]:
    """Whether the data layer marks each hospital's data de-identified: a registered public
    release (MedMNIST, the registered feature tables) is published de-identified."""
    try:
        dataset_info(study.data.dataset)
    except DataError:
        return {name: False for name in scenario.datasets}
    return {name: True for name in scenario.datasets}


def check_goals(study: StudyConfig, scenario: Scenario) -> dict[str, Any]:
    """Enforce the declared privacy goals and data requirements before training (5.2c, 5.2d).

    Raises ``GoalRefusedError`` naming every problem; returns what was checked, for results.json.
    """
    goals = study.goals
    plans = planned_epsilon(study, scenario.datasets)
    marks = data_deidentified(study, scenario)
    check_privacy_goals(goals.privacy, mechanisms=study_mechanisms(study), planned_epsilon=plans, deidentified=marks)
    info = dataset_info(study.data.dataset)
    # A feature table computed from images keeps the modality of the images it came from.
    source = IMAGE_STATISTICS_SOURCES.get(study.data.dataset, RADIOMICS_TABLES.get(study.data.dataset))
    modality = _MODALITY.get(study.data.dataset) or _MODALITY.get(source or "")
    check_data_requirements(goals.data, counts=scenario.summary, class_names=info.labels, modality=modality)
    worst = max(plans.values()) if plans else math.inf
    return {
        "summary": "planned epsilon " + ("unbounded (no DP)" if math.isinf(worst) else f"{worst:.3f}"),
        "privacy": {
            "planned_epsilon": None if math.isinf(worst) else round(worst, 4),
            "mechanisms": sorted(study_mechanisms(study)),
            "deidentified": all(marks.values()),
            "enforced": True,
        },
        "data": {"dataset_modality": modality, "checked": True},
    }
