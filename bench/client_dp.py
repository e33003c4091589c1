"""Client-level DP (DP-FedAvg) across 3 hospitals: how far the model moves from centralized.

Runs ``examples/pneumonia-client-dp.toml`` (PneumoniaMNIST texture statistics, logistic
regression, Dirichlet α=0.5, ε ≈ 7.92 at δ = 1e-5) --runs times through ``medfed simulate``,
each with another training seed (another split across the hospitals) and fresh noise from
the operating system's CSPRNG. Every run trains its own centralized baseline on the pooled
training rows, so each |ΔAUC| compares like with like on the official test split.

Prints one JSON line: ε (exact, the RDP bound for the same σ, and ε if a hospital's update
could be swapped rather than zeroed), the federated and centralized AUC medians, |ΔAUC| as
median, 90th percentile, worst, and the fraction of runs within 0.05 and 0.03, and the
median |Δ| of KS and accuracy (AUC only ranks; accuracy also needs the threshold). Usage: MEDFED_DATA_DIR=... python bench/client_dp.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from medfed.core.config import dump_study, load_study
from medfed.privacy.accounting import TightAccountant

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pneumonia-client-dp.toml"


def one_run(study_path: Path, seed: int, workdir: Path) -> dict[str, float]:
    base = load_study(study_path)
    study = base.with_training(seed=seed)
    study = replace(study, study_id=f"{base.study_id}-seed{seed}")
    path = workdir / f"study-{seed}.toml"
    path.write_text(dump_study(study))
    out = workdir / f"run-{seed}"
    command = [sys.executable, "-m", "medfed", "simulate", str(path), "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=False)
    if done.returncode != 0:
        raise SystemExit(f"run {seed} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    results = json.loads((out / "results.json").read_text())
    fed, cen = results["federated"], results["centralized"]
    return {
        "federated": fed["auc"],
        "centralized": cen["auc"],
        "ks_gap": abs(fed["ks"] - cen["ks"]),
        "accuracy_gap": abs(fed["accuracy"] - cen["accuracy"]),
        "epsilon": results["privacy"]["epsilon"],
        "epsilon_replace_one": results["privacy"]["epsilon_replace_one"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--study", type=Path, default=EXAMPLE)
    args = parser.parse_args()
    study = load_study(args.study)
    runs = []
    with tempfile.TemporaryDirectory(prefix="medfed-client-dp-") as tmp:
        for seed in range(args.runs):
            runs.append(one_run(args.study, seed, Path(tmp)))
            gap = abs(runs[-1]["federated"] - runs[-1]["centralized"])
            print(f"run {seed + 1}/{args.runs}: |ΔAUC| {gap:.4f}", file=sys.stderr)
    gaps = np.array([abs(r["federated"] - r["centralized"]) for r in runs])
    bound = TightAccountant()
    bound.step(noise_multiplier=study.privacy.noise_multiplier, sample_rate=1.0, steps=study.training.rounds)
    print(
        json.dumps(
            {
                "runs": args.runs,
                "hospitals": len(study.hospitals),
                "epsilon": round(max(r["epsilon"] for r in runs), 4),
                "epsilon_rdp_bound": round(bound.rdp_epsilon(study.privacy.delta), 4),
                "delta": study.privacy.delta,
                "federated_auc_median": round(float(np.median([r["federated"] for r in runs])), 4),
                "centralized_auc_median": round(float(np.median([r["centralized"] for r in runs])), 4),
                "abs_delta_auc_median": round(float(np.median(gaps)), 4),
                "abs_delta_auc_p90": round(float(np.percentile(gaps, 90)), 4),
                "abs_delta_auc_worst": round(float(gaps.max()), 4),
                "within_0_05": round(float(np.mean(gaps <= 0.05)), 3),
                "within_0_03": round(float(np.mean(gaps <= 0.03)), 3),
                "abs_delta_ks_median": round(float(np.median([r["ks_gap"] for r in runs])), 4),
                "abs_delta_accuracy_median": round(float(np.median([r["accuracy_gap"] for r in runs])), 4),
                "abs_delta_accuracy_worst": round(float(max(r["accuracy_gap"] for r in runs)), 4),
                "epsilon_replace_one": round(max(r["epsilon_replace_one"] for r in runs), 4),
            }
        )
    )


if __name__ == "__main__":
    main()
