"""``medfed evaluate security``: the malicious-party evaluation (standard 5.5.1.1e).

    medfed evaluate security study.toml [--behaviours random_factors,sign_flip,label_flip]
        [--fractions 0,0.1,0.2,0.3] [--hospitals 10] [--rounds R] [--out DIR] [--json FILE]

Writes ``security.html`` (the "Malicious-party evaluation" section with its plot) and
``security.json`` into ``--out``; ``--json`` writes the JSON elsewhere too.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from medfed.errors import ConfigError

log = logging.getLogger("medfed.cli")


def _names(text: str, allowed: tuple[str, ...], flag: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise ConfigError(f"{flag}: unknown {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return names


def _fractions(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(f) for f in text.split(",") if f.strip())
    except ValueError:
        raise ConfigError(f"--fractions must be comma-separated numbers, not {text!r}") from None


def register(sub: Any) -> None:
    evaluate = sub.add_parser("evaluate", help="evaluations beyond a study's own report")
    kinds = evaluate.add_subparsers(dest="evaluate_kind", required=True)
    p = kinds.add_parser("security", help="malicious-party simulation: attacks, robust aggregation, detection")
    p.add_argument("study", type=Path)
    p.add_argument("--behaviours", default="random_factors,sign_flip,label_flip",
                   help="model-level attacks, comma-separated (random_factors, sign_flip, scaling, "
                   "gaussian_noise, label_flip); '' for none")
    p.add_argument("--fractions", default="0,0.1,0.2,0.3", help="fractions of malicious hospitals")
    p.add_argument("--hospitals", type=int, default=10)
    p.add_argument("--rounds", type=int, help="override the study's number of rounds")
    p.add_argument("--robust", default="median", help="robust rule behind the screen (median, trimmed_mean, krum)")
    p.add_argument("--screen-factor", type=float, default=3.0, help="flag updates beyond this × median distance")
    p.add_argument("--value-fraction", type=float, default=0.5, help="random_factors: share of values replaced")
    p.add_argument("--protocol", default="shares,masked,dropout,replay,paillier,ckks,vertical",
                   help="protocol-level targets (shares, masked, dropout, replay, paillier, ckks, bfv, "
                   "vertical); '' for none")
    p.add_argument("--protocol-rounds", type=int, default=3)
    p.add_argument("--protocol-values", type=int, default=4096, help="vector length in protocol trials")
    p.add_argument("--max-train", type=int, help="cap on training images over all hospitals (quick runs)")
    p.add_argument("--data-dir", type=Path, help="folder holding MedMNIST .npz files (or $MEDFED_DATA_DIR)")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("security-eval"), help="default: security-eval/")
    p.add_argument("--json", type=Path, help="also write the JSON here")
    p.set_defaults(_run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: training and evaluation pull in torch, which other commands never need at start-up.
    from medfed.core.config import load_study
    from medfed.evaluation._security_section import security_page
    from medfed.orchestration.security_eval import (
        MODEL_BEHAVIOURS,
        PROTOCOL_TARGETS,
        SecurityEvalOptions,
        evaluate_security,
    )
    from medfed.training import resolve_device

    study = load_study(args.study)
    options = SecurityEvalOptions(
        behaviours=_names(args.behaviours, MODEL_BEHAVIOURS, "--behaviours"),
        fractions=_fractions(args.fractions),
        hospitals=args.hospitals,
        rounds=args.rounds,
        robust=args.robust,
        screen_factor=args.screen_factor,
        value_fraction=args.value_fraction,
        protocol_targets=_names(args.protocol, PROTOCOL_TARGETS, "--protocol"),
        protocol_rounds=args.protocol_rounds,
        protocol_values=args.protocol_values,
        max_train=args.max_train,
        data_dir=args.data_dir,
        device=str(resolve_device(args.device)),
        seed=args.seed,
    )
    result = evaluate_security(study, options, progress=lambda text: print(text, flush=True))
    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, allow_nan=False)
    (args.out / "security.json").write_text(text)
    (args.out / "security.html").write_text(security_page(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    print(f"wrote {args.out / 'security.html'} and {args.out / 'security.json'}")
    return 0
