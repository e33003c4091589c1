"""``medfed iterate cv|search <study.toml>``: federated cross-validation and hyper-parameter
search in simulation (standard 5.7.3.5), with train-vs-validation curves in iteration.html."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from medfed.errors import ConfigError


def register(sub: Any) -> None:
    p = sub.add_parser("iterate", help="federated k-fold cross-validation or hyper-parameter search")
    p.add_argument("action", choices=["cv", "search"])
    p.add_argument("study", type=Path)
    p.add_argument("--k", type=int, default=5, help="folds for cv (default 5)")
    p.add_argument(
        "--space", action="append", default=[], metavar="NAME=V1,V2",
        help="search values, repeatable: lr, local_epochs, mu, batch_size, rounds, weight_decay "
        "(a low:high value is a range for --mode random)",
    )
    p.add_argument("--mode", choices=["grid", "random"], default="grid")
    p.add_argument("--trials", type=int, help="random: how many draws; grid: the first N settings")
    p.add_argument("--private", action="store_true", help="select by the exponential mechanism")
    p.add_argument("--epsilon", type=float, default=1.0, help="epsilon of the private selection")
    p.add_argument("--rounds", type=int, help="override the study's rounds")
    p.add_argument("--max-train", type=int, help="at most N training records per hospital")
    p.add_argument("--data-dir", type=Path, help="folder holding MedMNIST .npz files (or $MEDFED_DATA_DIR)")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    p.add_argument("--out", type=Path, help="output folder (default runs/iterate-<timestamp>)")
    p.set_defaults(_run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: the iteration pulls in torch and the simulation, which other commands skip.
    from medfed.core.config import load_study
    from medfed.orchestration.model_iteration import cross_validate, parse_space, search

    study = load_study(args.study)
    if args.rounds is not None:
        study = study.with_training(rounds=args.rounds)
    out = args.out or Path("runs") / datetime.now().strftime("iterate-%Y%m%d-%H%M%S")
    common = {"out_dir": out, "data_dir": args.data_dir, "max_train": args.max_train, "device": args.device}
    if args.action == "cv":
        document = cross_validate(study, args.k, **common)
    else:
        if not args.space:
            raise ConfigError("search needs at least one --space NAME=V1,V2")
        document = search(
            study, parse_space(args.space), mode=args.mode, trials=args.trials,
            private=args.private, epsilon=args.epsilon, **common,
        )
    for r in document["runs"]:
        final, fit = r["final"], r["diagnosis"]
        print(f"{r['label']}: train AUC {final['train_auc']:.4f}, validation AUC {final['val_auc']:.4f} "
              f"({fit['fit']}; {r['seconds']:.1f} s, {r['bytes'] / 1e6:.1f} MB)")
    summary = document["summary"]
    if document["kind"] == "cv":
        print(f"validation AUC: mean {summary['mean_val_auc']:.4f} ± {summary['std_val_auc']:.4f}")
    else:
        print(f"selected ({summary['mechanism']}): {summary['params']}")
    print(f"written: {out / 'iteration.json'}, {out / 'iteration.html'}")
    return 0
