"""The vertical Appendix A scenario across real processes: dispatcher, data parties, arbiter."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from medfed.core.config import StudyConfig, dump_study, load_study
from medfed.data.feature_tables import save_party_table
from medfed.data.tabular import (
    Table,
    fit_standardizer,
    is_test_id,
    load_breast_cancer_table,
    split_columns,
)
from medfed.errors import StudyFailedError
from medfed.orchestration.processes import Deployment, Launch, free_port
from medfed.provision import provision_study

VERTICAL_STUDY = Path(__file__).with_name("appendix_a_vertical.toml")


def _joined(train: Table, test: Table) -> Table:
    labels = None if train.labels is None or test.labels is None else np.concatenate([train.labels, test.labels])
    return Table(train.ids + test.ids, np.vstack([train.features, test.features]), labels, train.feature_names)


def write_party_tables(study: StudyConfig, directory: Path) -> dict[str, Path]:
    """Each data party's own columns for the patients it holds, as it would find them on disk."""
    v = study.vertical
    assert v is not None
    table = load_breast_cancer_table(seed=study.training.seed)
    splits = split_columns(
        table, study.hospitals, label_party=v.label_party, seed=study.training.seed,
        overlap=v.overlap, test_fraction=v.test_fraction,
    )
    paths = {}
    for name, split in splits.items():
        paths[name] = directory / name / "table.npz"
        save_party_table(paths[name], _joined(split.train, split.test))
    return paths


def local_plaintext(study: StudyConfig, held: dict[str, Table]) -> tuple[dict[str, float], int]:
    """scikit-learn on every column of the patients all parties hold, same train/test split."""
    from medfed.orchestration.appendix_a import local_plaintext_metrics

    v = study.vertical
    assert v is not None
    full = load_breast_cancer_table(seed=study.training.seed)
    common = set(full.ids).intersection(*(set(t.ids) for t in held.values()))
    rows = np.array([i for i, pid in enumerate(full.ids) if pid in common])
    test = np.array([is_test_id(full.ids[i], seed=study.training.seed, test_fraction=v.test_fraction) for i in rows])
    x, y = full.features[rows], full.labels
    assert y is not None
    scale = fit_standardizer(x[~test])
    metrics = local_plaintext_metrics(scale.apply(x[~test]), y[rows][~test], scale.apply(x[test]), y[rows][test])
    return metrics, len(common)


def _one_run(study: StudyConfig, out: Path, attempt: int, tables: dict[str, Path]) -> tuple[float, dict[str, Any]]:
    work = out / "deployment" / f"run-{attempt + 1}"
    launch = Launch(out / "study.toml", out / "kits", tables, work)
    deployment = Deployment(study, launch)
    v = study.vertical
    assert v is not None
    start = time.perf_counter()
    try:
        deployment.start_dispatcher(port=free_port(), wait=False)
        for name in study.hospitals:
            deployment.start_party(name, tables[name])
        deployment.start_party(v.arbiter, None)
        deployment.wait_for_dispatcher()
        result = deployment.wait_for_result()
        seconds = time.perf_counter() - start
        deployment.stop()
    except BaseException:
        deployment.kill_all()
        raise
    if not result.ok:
        raise StudyFailedError(result.reason)
    return seconds, result.summary


def run_vertical(options: Any, console: Console) -> dict[str, Any]:
    """Provision, write each party's table, run ``options.repeats`` times; the A.1–A.3 record."""
    from medfed.orchestration.appendix_a import round_traffic

    base = load_study(VERTICAL_STUDY)
    assert base.vertical is not None
    from dataclasses import replace

    vertical = replace(base.vertical, iterations=options.vertical_iterations, key_bits=options.key_bits)
    study = replace(base, vertical=vertical)
    out = options.out_dir / "vertical"
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.toml").write_text(dump_study(study), encoding="utf-8")
    if not (out / "kits").exists():
        provision_study(study, out / "kits")
    tables = write_party_tables(study, out / "parties")
    from medfed.data.feature_tables import load_party_table

    local, common = local_plaintext(study, {n: load_party_table(p) for n, p in tables.items()})
    console.rule(f"[bold]{study.study_id}[/] · {len(study.hospitals)} data parties + arbiter · processes")
    runs: list[tuple[float, dict[str, Any]]] = []
    for attempt in range(options.repeats):
        runs.append(_one_run(study, out, attempt, tables))
        console.print(f"    run {attempt + 1}: {runs[-1][0]:.1f} s, joint AUC {runs[-1][1]['result']['auc']:.4f}")
    seconds, summary = min(runs, key=lambda r: r[0])
    joint = {"auc": summary["result"]["auc"], "ks": summary["result"]["ks"]}
    return {
        "scenario": "vertical",
        "protection": f"PSI + Paillier-{vertical.key_bits} with arbiter",
        "precision": "fixed-point, 2^-24",
        "joint": joint,
        "local": local,
        "delta_auc": abs(joint["auc"] - local["auc"]),
        "delta_ks": abs(joint["ks"] - local["ks"]),
        "runs_seconds": [round(r[0], 3) for r in runs],
        "best_seconds": round(seconds, 3),
        "common_patients": common,
        "rounds": [round_traffic(r) for r in summary["rounds"]],
    }
