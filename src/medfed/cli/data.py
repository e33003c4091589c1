"""``medfed data register``: a hospital folder → a registered dataset a node trains on.

    medfed data register /data/incoming --out /data/registered --task pneumoniamnist \\
        --labels labels.csv --id-column patient --label-column diagnosis \\
        --deid-key /secure/deid.key --target-size 28 --min-count 5 --seed 0
    medfed node --kit kits/hospital-a --data /data/registered/data.npz
"""

from __future__ import annotations

import argparse
import os
import secrets
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from medfed.errors import ConfigError

KEY_BYTES = 32


def register(sub: Any) -> None:
    data = sub.add_parser("data", help="prepare a hospital's own data (register a folder)")
    actions = data.add_subparsers(dest="data_action", required=True)
    reg = actions.add_parser(
        "register",
        help="ingest, de-identify, verify, clean, standardise and split a folder of images",
    )
    reg.add_argument("folder", type=Path, help="the folder of DICOM / NIfTI / PNG / JPEG / .npz files")
    reg.add_argument("--out", type=Path, required=True, help="the dataset folder to write")
    reg.add_argument("--task", default="pneumoniamnist", help="the study's [data] dataset (shape and classes)")
    reg.add_argument("--labels", type=Path, help="CSV of labels keyed by a study-local ID")
    reg.add_argument("--id-column", default="id", help="the CSV's ID column (default: id)")
    reg.add_argument("--label-column", default="label", help="the CSV's label column (default: label)")
    reg.add_argument(
        "--label-key", choices=("patient_id", "file_stem"), default="patient_id",
        help="what the ID matches: the PatientID (default) or the file name without suffix",
    )
    reg.add_argument(
        "--deid-key", type=Path, required=True,
        help="file holding the de-identification secret; created (mode 0600) if absent. Keep it at the hospital",
    )
    reg.add_argument(
        "--date-shift", action=argparse.BooleanOptionalAction, default=True,
        help="shift each patient's dates by a keyed offset (default) or remove them",
    )
    reg.add_argument("--target-size", type=int, default=28, help="pixels per side: 28, 64, 128 or 224")
    reg.add_argument("--min-count", type=int, default=5, help="smallest count the data card shows")
    reg.add_argument("--seed", type=int, default=0, help="seed of the patient-level split")
    reg.add_argument(
        "--near-duplicate-distance", type=int, default=4,
        help="largest perceptual-hash distance (of 64 bits) counted as a near duplicate; -1: off",
    )
    reg.add_argument("--party", default="hospital", help="the name on the data card")
    reg.add_argument("--modality", default="OT", help="modality of images whose format records none")
    reg.add_argument(
        "--accept-modality", action="append", metavar="CODE",
        help="keep only these modalities (repeatable; default: any)",
    )
    reg.add_argument(
        "--workers", type=int, default=None,
        help="processes that read, de-identify and verify the files (default: the CPUs, at most 4; 1: no pool)",
    )
    reg.set_defaults(_run=run)


def load_or_create_key(path: Path, console: Console) -> bytes:
    """The secret in ``path`` (hex text or raw bytes); a fresh one written there if absent.

    :class:`ConfigError` if the file cannot be read or created (a folder, no permission).
    """
    if path.exists():
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"the de-identification key {path} cannot be read: {exc.strerror}") from None
        try:
            return bytes.fromhex(raw.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            return raw
    secret = secrets.token_bytes(KEY_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secret.hex() + "\n")
    except OSError as exc:
        raise ConfigError(f"the de-identification key {path} cannot be created: {exc.strerror}") from None
    console.print(f"created a new de-identification key in {path} (keep it; it links pseudonyms)")
    return secret


def run(args: argparse.Namespace) -> int:
    from medfed.data.deid import DeidKey
    from medfed.data.ingest import LabelKey, LabelOptions
    from medfed.data.register import RegisterOptions, register_folder

    console = Console(stderr=True)
    if args.labels is not None and not args.labels.is_file():
        raise ConfigError(f"the labels CSV {args.labels} does not exist")
    labels = (
        LabelOptions(args.labels, args.id_column, args.label_column, LabelKey(args.label_key))
        if args.labels is not None
        else None
    )
    options = RegisterOptions(
        task=args.task,
        key=DeidKey(load_or_create_key(args.deid_key, console)),
        size=args.target_size,
        shift_dates=args.date_shift,
        labels=labels,
        modality=args.modality,
        modalities=frozenset(args.accept_modality) if args.accept_modality else None,
        min_count=args.min_count,
        seed=args.seed,
        party=args.party,
        near_duplicate_distance=args.near_duplicate_distance,
        **({"workers": args.workers} if args.workers is not None else {}),
    )
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    ) as progress:
        tasks: dict[str, Any] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done)

        registration = register_folder(args.folder, args.out, options, on_progress=on_progress)
    console.print(f"cleaning: {registration.cleaning.summary()}")
    console.print(registration.card.render_text())
    counts = registration.record["counts"]["split"]
    console.print(
        "split by patient: "
        + ", ".join(f"{k} {v['images']} images / {v['patients']} patients" for k, v in counts.items())
    )
    print(registration.data_file)
    return 0
