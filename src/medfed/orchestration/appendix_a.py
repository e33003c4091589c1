"""``medfed bench appendix-a``: the standard's logistic-regression scenario, end to end.

Horizontal: three hospitals hold different patients with the same features; FedAvg of
logistic regression across real dispatcher and node processes, updates Paillier-
encrypted (or securely aggregated) per the study file. Vertical: parties hold different
features of the same patients; PSI aligns them, then Paillier-based vertical logistic
regression with an arbiter, each party a process relayed by the dispatcher. Each is run
``repeats`` times (A.2: best time) and compared with scikit-learn's LogisticRegression
trained on the pooled plaintext training rows (A.1); traffic per round (A.3) is what the
dispatcher counted.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.linear_model import LogisticRegression

from medfed.core.config import Encryption, dump_study, load_study
from medfed.data import dataset_info
from medfed.errors import ConfigError
from medfed.evaluation.appendix_a import (
    A1_HEAD,
    A2_HEAD,
    A3_HEAD,
    a1_rows,
    a2_rows,
    a3_rows,
    render_html,
)
from medfed.evaluation.metrics import classification_metrics
from medfed.orchestration.runs import RunOptions, run_study
from medfed.orchestration.scenario import prepare_scenario

HORIZONTAL_STUDY = Path(__file__).with_name("appendix_a_horizontal.toml")


@dataclass(frozen=True)
class AppendixOptions:
    out_dir: Path
    repeats: int = 3
    horizontal_study: Path = HORIZONTAL_STUDY
    vertical: bool = True
    vertical_iterations: int = 10
    key_bits: int = 2048
    # The horizontal scenario's feature table, when not the study file's own: e.g.
    # "breastmnist_radiomics" (BreastMNIST images through the radiomics extractors).
    horizontal_dataset: str | None = None


def local_plaintext_metrics(features: np.ndarray, labels: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> dict[str, float]:
    """AUC and KS of scikit-learn's LogisticRegression (default C = 1) on pooled plaintext rows."""
    model = LogisticRegression(max_iter=2000).fit(features, labels)
    metrics = classification_metrics(test_y, model.predict_proba(test_x))
    return {"auc": metrics.auc, "ks": metrics.ks}


def round_traffic(entry: dict[str, Any]) -> dict[str, Any]:
    """One round of the dispatcher's summary as an A.3 row (clients summed)."""
    clients = entry.get("clients", {}).values()
    return {
        "round": entry["round"],
        "seconds": entry["seconds"],
        "client_sent": sum(c["bytes_sent"] for c in clients),
        "client_received": sum(c["bytes_received"] for c in clients),
        "server_sent": entry["server"]["bytes_sent"],
        "server_received": entry["server"]["bytes_received"],
    }


def horizontal_study_path(options: AppendixOptions) -> Path:
    """The horizontal study file, rewritten into the run folder when another table is asked for."""
    if options.horizontal_dataset is None:
        return options.horizontal_study
    study = load_study(options.horizontal_study)
    if dataset_info(options.horizontal_dataset).dims != 0:
        raise ConfigError(f"{options.horizontal_dataset} is not a feature table for logistic regression")
    study = replace(study, data=replace(study.data, dataset=options.horizontal_dataset))
    path = options.out_dir / "horizontal-study.toml"
    path.write_text(dump_study(study), encoding="utf-8")
    return path


def run_horizontal(options: AppendixOptions, console: Console) -> dict[str, Any]:
    study_path = horizontal_study_path(options)
    study = load_study(study_path)
    results = run_study(
        RunOptions(study_path=study_path, out_dir=options.out_dir / "horizontal", repeat=options.repeats),
        console,
    )
    scenario = prepare_scenario(study, data_dir=None)
    pooled_x = np.concatenate([np.concatenate([d.train.images, d.val.images]) for d in scenario.datasets.values()])
    pooled_y = np.concatenate([np.concatenate([d.train.labels, d.val.labels]) for d in scenario.datasets.values()])
    local = local_plaintext_metrics(pooled_x, pooled_y, scenario.test.images, scenario.test.labels)
    joint = {"auc": results["federated"]["auc"], "ks": results["federated"]["ks"]}
    p = study.privacy
    protection = p.encryption.value if p.encryption is not Encryption.NONE else (
        "secure aggregation" if p.secure_aggregation else "none"
    )
    precision = {
        Encryption.PAILLIER: "Paillier fixed-point, 2^-32",
        Encryption.CKKS: "CKKS approximate",
        Encryption.BFV: "BFV fixed-point",
    }.get(p.encryption, "float32")
    seconds = results["repeats"]["seconds"] if results.get("repeats") else [results["federated"]["seconds"]]
    return {
        "scenario": "horizontal",
        "dataset": study.data.dataset,
        "protection": protection,
        "precision": precision,
        "joint": joint,
        "local": local,
        "delta_auc": abs(joint["auc"] - local["auc"]),
        "delta_ks": abs(joint["ks"] - local["ks"]),
        "runs_seconds": seconds,
        "best_seconds": min(seconds),
        "rounds": [round_traffic(r) for r in results["rounds"]],
    }


def print_tables(records: list[dict[str, Any]], console: Console) -> None:
    for title, head, rows in (
        ("A.1 accuracy: joint vs local plaintext", A1_HEAD, a1_rows(records)),
        ("A.2 total time (best of runs)", A2_HEAD, a2_rows(records)),
    ):
        table = Table(title=title)
        for column in head:
            table.add_column(column, justify="right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    for record in records:
        table = Table(title=f"A.3 communication per round — {record['scenario']} ({record['protection']})")
        for column in A3_HEAD:
            table.add_column(column, justify="right")
        for row in a3_rows(record):
            table.add_row(*row)
        console.print(table)


def run_appendix_a(options: AppendixOptions, console: Console | None = None) -> dict[str, Any]:
    """Run the scenarios, print the three tables, write results.json and appendix_a.html."""
    console = console or Console(stderr=True)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    records = [run_horizontal(options, console)]
    if options.vertical:
        from medfed.orchestration.vertical_run import run_vertical

        records.append(run_vertical(options, console))
    print_tables(records, console)
    document = {"appendix_a": records}
    tmp = options.out_dir / "results.json.tmp"
    tmp.write_text(json.dumps(document, indent=1), encoding="utf-8")
    os.replace(tmp, options.out_dir / "results.json")
    (options.out_dir / "appendix_a.html").write_text(render_html(records), encoding="utf-8")
    console.print(f"Appendix A: {options.out_dir / 'results.json'}, {options.out_dir / 'appendix_a.html'}")
    return {
        r["scenario"]: {"delta_auc": r["delta_auc"], "delta_ks": r["delta_ks"], "best_seconds": r["best_seconds"]}
        for r in records
    }
