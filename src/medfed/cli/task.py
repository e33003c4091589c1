"""``medfed task``: the dispatcher's task queue from the command line (clauses 5.4.2.3c-d, 5.4.3.2a-d).

    medfed task create --store tasks.db --study study.toml --kit kits/initiator [--kind study] [--priority 5] ...
    medfed task show|cancel ID --store tasks.db
    medfed task result ID --store tasks.db --kit kits/result --trusted-ca kits/ca/ca.pem

    medfed task list|nodes --store tasks.db
    medfed task worker --store tasks.db --node-id hospital-a --capacity 2 --datasets pneumonia

A task pins the SHA-256 fingerprint of the study CA when it is created (the initiator kit's
ca.pem, or ``--trusted-ca`` when it issued that kit, for the kit's own study); ``result`` hands
the output only to a result-party kit of that CA and study. The pin binds a task to its study's
CA; it does not guard against someone who can write the store (they could queue tasks of their
own, or read results directly): protect the store with file permissions or database roles.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medfed.errors import ConfigError, IdentityError
from medfed.roles import Role
from medfed.scheduling import (
    KINDS,
    Scheduler,
    Task,
    TaskSpec,
    TaskState,
    open_task_store,
    parse_study_text,
)


def register(sub: Any) -> None:
    task = sub.add_parser("task", help="task queue: create, show, list, cancel, result, nodes, worker")
    actions = task.add_subparsers(dest="task_action", required=True)

    create = _with_store(actions.add_parser("create", help="queue a task (the initiator)"))
    create.add_argument("--study", type=Path, required=True, help="the study file (TOML)")
    create.add_argument("--kind", default="study", choices=KINDS)
    create.add_argument("--name", help="a label (default: the study file's name)")
    create.add_argument("--priority", type=int, default=0, help="0..1000, higher runs first (default 0)")
    create.add_argument("--bound-to", help="the node that must run it (default: any node holding the data)")
    create.add_argument("--participants", default="", help="comma-separated parties of the study")
    create.add_argument("--dataset", action="append", default=[], metavar="PARTY=ID", help="a party's dataset id")
    create.add_argument("--family", help="group id (a cross-validation, a search)")
    create.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="VALUE is JSON or text")
    create.add_argument(
        "--kit", type=Path, help="the initiator's kit (required): its name becomes the submitter, its CA is pinned"
    )
    create.add_argument(
        "--trusted-ca",
        type=Path,
        help="the study's CA certificate (ca.pem from provisioning), checked to have issued --kit and "
        "pinned in the task: `task result` accepts only this CA (default: the --kit's ca.pem)",
    )

    for action, help_text in (("show", "a task's configuration and assignment"), ("cancel", "stop a task")):
        parser = _with_store(actions.add_parser(action, help=help_text))
        parser.add_argument("task_id")
        if action == "cancel":
            parser.add_argument("--by", default="initiator", help="who cancels (recorded as the reason)")

    result = _with_store(actions.add_parser("result", help="a finished task's output (the result party only)"))
    result.add_argument("task_id")
    result.add_argument("--kit", type=Path, required=True, help="the caller's kit: must hold the result role")
    result.add_argument(
        "--trusted-ca",
        type=Path,
        required=True,
        help="the study's CA certificate (ca.pem from provisioning): must be the CA the task pinned when "
        "it was created, and the kit's certificate must chain to it",
    )
    result.add_argument(
        "--allow-unpinned", action="store_true",
        help="accept a task that pins no study CA (queued by a front end for another study), trusting --trusted-ca as given",
    )

    listing = _with_store(actions.add_parser("list", help="tasks, oldest first"))
    listing.add_argument("--state", choices=[s.value for s in TaskState])
    listing.add_argument("--family")

    _with_store(actions.add_parser("nodes", help="the nodes that reported, their capacity, load and data"))

    worker = _with_store(actions.add_parser("worker", help="run this node's tasks until interrupted"))
    worker.add_argument("--node-id", required=True)
    worker.add_argument("--capacity", type=int, default=1, help="tasks at once (default 1)")
    worker.add_argument("--load", type=float, default=0.0, help="slots taken by other work (default 0)")
    worker.add_argument("--datasets", default="", help="comma-separated dataset ids this node holds")
    worker.add_argument("--data-dir", type=Path, help="folder of MedMNIST files (or $MEDFED_DATA_DIR)")
    worker.add_argument("--out", type=Path, default=Path("task-runs"), help="one folder per task (default task-runs/)")
    worker.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    worker.add_argument("--poll", type=float, default=2.0, help="seconds between looks at the queue")
    task.set_defaults(_run=run)


def _with_store(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--store", required=True, help="SQLite file, sqlite:///path or postgresql+psycopg://...")
    parser.add_argument("--lease", type=float, default=30.0, help="seconds a silent node, or a task its node stops renewing, keeps its place")
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def run(args: argparse.Namespace) -> int:
    store = open_task_store(args.store)
    try:
        scheduler = Scheduler(store, lease_seconds=args.lease)
        return _ACTIONS[args.task_action](scheduler, args)
    finally:
        store.close()


def _create(scheduler: Scheduler, args: argparse.Namespace) -> int:
    try:
        study_text = args.study.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read study file {args.study}: {exc.strerror}") from None
    study_id = _study_id_of(study_text)  # the study file's own problems come first
    if args.kit is None:
        raise ConfigError(
            "give --kit kits/initiator: the task pins the CA that issued the initiator's kit, which "
            "`medfed task result` later checks the result party's kit against"
        )
    kit = _kit(args.kit)
    if kit.role is not Role.INITIATOR:
        raise IdentityError(f"kit {args.kit} is the {kit.role.value!r} role; tasks are created by the initiator")
    pin = _study_ca_pin(args.trusted_ca, kit, study_id)
    spec = TaskSpec(
        kind=args.kind,
        name=args.name or args.study.stem,
        study_toml=study_text,
        priority=args.priority,
        participants=tuple(p for p in args.participants.split(",") if p),
        dataset_ids=dict(_pair(item, "--dataset") for item in args.dataset),
        bound_to=args.bound_to,
        family=args.family,
        params={k: _value(v) for k, v in (_pair(item, "--param") for item in args.param)},
        study_ca_sha256=pin,
    )
    task = scheduler.submit(spec, kit.name)
    _show_task(scheduler, task, args.json)
    return 0


def _show(scheduler: Scheduler, args: argparse.Namespace) -> int:
    _show_task(scheduler, scheduler.get(args.task_id), args.json)
    return 0


def _cancel(scheduler: Scheduler, args: argparse.Namespace) -> int:
    _show_task(scheduler, scheduler.cancel(args.task_id, args.by), args.json)
    return 0


def _study_id_of(study_text: str) -> str:
    try:
        return parse_study_text(study_text).study_id
    except ConfigError as exc:
        raise ConfigError(f"malformed study file: {exc}") from None


def _study_ca_pin(ca_path: Path | None, kit: Any, study_id: str) -> str:
    """The fingerprint of the study CA a new task pins: the initiator kit's CA (``--trusted-ca``,
    if given, must be the CA that issued the kit), for a study the kit belongs to."""
    from medfed.pki.identity import certificate_fingerprint, verify_issued_by

    if kit.study_id != study_id:
        raise IdentityError(
            f"kit {kit.directory} is for study {kit.study_id!r}, the study file is {study_id!r}: "
            "a task is created with a kit of its own study"
        )
    ca_pem = _read_study_ca(ca_path if ca_path is not None else kit.ca_path)
    try:
        verify_issued_by(kit.cert_path.read_bytes(), ca_pem)
    except IdentityError:
        raise IdentityError(
            f"kit {kit.directory} was not issued by the CA {ca_path or kit.ca_path}; give this study's ca.pem"
        ) from None
    return certificate_fingerprint(ca_pem)


def _result(scheduler: Scheduler, args: argparse.Namespace) -> int:
    kit = _kit(args.kit)
    task = scheduler.get(args.task_id)
    # A kit vouches only for itself (its own ca.pem); the study's CA decides who is the result party.
    _check_kit_trusted(kit, args.trusted_ca, task, allow_unpinned=args.allow_unpinned)
    print(json.dumps(scheduler.result(args.task_id, kit.role), indent=1))
    return 0


def _read_study_ca(ca_path: Path) -> bytes:
    """The PEM of a currently valid CA certificate at ``ca_path``; ConfigError / IdentityError otherwise."""
    from medfed.pki.identity import check_validity, is_ca_certificate, load_cert

    try:
        ca_pem = ca_path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the study's CA certificate {ca_path}: {exc.strerror}") from None
    try:
        ca = load_cert(ca_pem)
    except (IdentityError, ValueError):
        raise IdentityError(f"{ca_path} is not a CA certificate (PEM); give the study's ca.pem") from None
    if not is_ca_certificate(ca):
        raise IdentityError(f"{ca_path} is a party's certificate, not a CA certificate; give the study's ca.pem")
    check_validity(ca_pem)
    return ca_pem


_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


def _short(fingerprint: str) -> str:
    return f"SHA-256 {fingerprint[:16]}…"


def _check_kit_trusted(kit: Any, ca_path: Path, task: Task, *, allow_unpinned: bool = False) -> None:
    from medfed.pki.identity import certificate_fingerprint, identity_from_cert, verify_issued_by

    study_id = parse_study_text(task.spec.study_toml).study_id
    ca_pem = _read_study_ca(ca_path)
    pinned, given = task.spec.study_ca_sha256, certificate_fingerprint(ca_pem)
    if pinned is not None and not (isinstance(pinned, str) and _FINGERPRINT.fullmatch(pinned)):
        raise IdentityError(f"task {task.task_id} holds a malformed study-CA pin: the store was altered; refused")
    if pinned is None:
        if not allow_unpinned:
            raise IdentityError(
                f"task {task.task_id} pins no study CA (queued for a study other than the console's own, or "
                "before tasks pinned one); pass --allow-unpinned to trust --trusted-ca as given"
            )
        print(
            f"medfed task: warning: task {task.task_id} pins no study CA; trusting {ca_path} ({_short(given)}) as given",
            file=sys.stderr,
        )
    elif given != pinned:
        raise IdentityError(
            f"{ca_path} ({_short(given)}) is not the study CA pinned when task {task.task_id} was created "
            f"({_short(pinned)}); give the study's ca.pem"
        )
    cert_pem = kit.cert_path.read_bytes()
    try:
        verify_issued_by(cert_pem, ca_pem)
    except IdentityError:
        raise IdentityError(
            f"kit {kit.directory} was not issued by the study's CA {ca_path}; "
            "only a kit provisioned for this study may fetch its results"
        ) from None
    if identity_from_cert(cert_pem).study_id != study_id:
        raise IdentityError(f"kit {kit.directory} belongs to another study than this task's ({study_id!r})")


def _list(scheduler: Scheduler, args: argparse.Namespace) -> int:
    state = TaskState(args.state) if args.state else None
    tasks = scheduler.list(state=state, family=args.family)
    if args.json:
        print(json.dumps([_summary(t) for t in tasks], indent=1))
        return 0
    print(f"{'task':<32}  {'kind':<10} {'pri':>4}  {'state':<9} {'node':<16} {'progress':>8}  name")
    for t in tasks:
        print(
            f"{t.task_id:<32}  {t.spec.kind:<10} {t.spec.priority:>4}  {t.state.value:<9} "
            f"{t.assigned_node or '-':<16} {t.progress:>8.0%}  {t.spec.name}"
        )
    return 0


def _nodes(scheduler: Scheduler, args: argparse.Namespace) -> int:
    active: dict[str, int] = {}
    for state in (TaskState.ASSIGNED, TaskState.RUNNING):
        for t in scheduler.list(state=state):
            active[t.assigned_node or ""] = active.get(t.assigned_node or "", 0) + 1
    rows = [
        {**n.to_dict(), "live": scheduler.live(n), "active_tasks": active.get(n.node_id, 0), "last_seen": _when(n.last_seen)}
        for n in scheduler.nodes()
    ]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'node':<20} {'live':<5} {'capacity':>8} {'load':>5} {'active':>6}  datasets")
    for r in rows:
        live = "yes" if r["live"] else "no"
        print(
            f"{r['node_id']:<20} {live:<5} {r['capacity']:>8} {r['load']:>5g} {r['active_tasks']:>6}  "
            f"{', '.join(r['datasets']) or '-'}"
        )
    return 0


def _worker(scheduler: Scheduler, args: argparse.Namespace) -> int:
    from medfed.orchestration.task_worker import TaskWorker

    data_dir = args.data_dir or (Path(os.environ["MEDFED_DATA_DIR"]) if os.environ.get("MEDFED_DATA_DIR") else None)
    worker = TaskWorker(
        scheduler,
        args.node_id,
        capacity=args.capacity,
        datasets=tuple(d for d in args.datasets.split(",") if d),
        data_dir=data_dir,
        out_root=args.out,
        load=args.load,
        device=args.device,
    )
    node = worker.heartbeat()  # refuses a bad node id, capacity or dataset list before the loop
    print(f"node {node.node_id}: capacity {node.capacity}, datasets {', '.join(node.datasets) or '-'}; Ctrl-C stops")
    stop = threading.Event()
    try:
        worker.run_forever(stop, poll_seconds=args.poll)
    except KeyboardInterrupt:
        # Tasks still running are re-queued by the scheduler once this node's lease runs out.
        stop.set()
    return 0


_ACTIONS = {
    "create": _create,
    "show": _show,
    "cancel": _cancel,
    "result": _result,
    "list": _list,
    "nodes": _nodes,
    "worker": _worker,
}


def _kit(path: Path) -> Any:
    from medfed.pki import load_kit

    return load_kit(path)


def _pair(item: str, option: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"{option} takes KEY=VALUE, not {item!r}")
    return key, value


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _summary(task: Task) -> dict[str, Any]:
    out = task.to_dict()
    del out["spec"]["study_toml"]
    return out


def _show_task(scheduler: Scheduler, task: Task, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_summary(task), indent=1))
        return
    spec = task.spec
    study_id = parse_study_text(spec.study_toml).study_id  # checked when the task was queued
    print(f"task {task.task_id}")
    print("  configuration")
    print(f"    kind          {spec.kind}")
    print(f"    name          {spec.name}")
    print(f"    study         {study_id}")
    print(f"    priority      {spec.priority}")
    print(f"    participants  {', '.join(spec.participants) or 'all parties of the study'}")
    datasets = ", ".join(f"{p}={d}" for p, d in spec.dataset_ids.items())
    print(f"    datasets      {datasets or '-'}")
    print(f"    bound to      {spec.bound_to or 'any node holding the data'}")
    print(f"    family        {spec.family or '-'}")
    print(f"    params        {json.dumps(spec.params)}")
    print(f"    study CA      {_short(spec.study_ca_sha256) if spec.study_ca_sha256 else 'not pinned'}")
    print(f"    submitter     {task.submitter}")
    print("  assignment")
    print(f"    state         {task.state.value}")
    print(f"    node          {task.assigned_node or '-'}")
    print(f"    attempts      {task.attempts} of {scheduler.max_attempts}")
    print(f"    progress      {task.progress:.0%}")
    print(f"    created       {_when(task.created_at)}")
    print(f"    updated       {_when(task.updated_at)}")
    if task.failure:
        print(f"    reason        {task.failure}")
    if task.result is not None:
        print("    result        available to the result party (medfed task result)")
