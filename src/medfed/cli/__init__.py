"""The ``medfed`` command line. Every failure the user can fix ends as one clear line, exit 2."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

from medfed.errors import ConfigError, MedfedError


def _common_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, help="run folder (default runs/<timestamp>)")
    p.add_argument("--data-dir", type=Path, help="folder holding MedMNIST .npz files (or $MEDFED_DATA_DIR)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--rounds", type=int, help="override the study's number of rounds")
    p.add_argument("--repeat", type=int, default=1, help="run the federated job N times; report the best (A.2)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medfed", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="provision, deploy 3 hospitals as processes, compare with centralized")
    demo.add_argument("--study", type=Path, help="study file (default: the bundled PneumoniaMNIST study)")
    demo.add_argument("--simulation", action="store_true", help="run in one process instead")
    _common_run_args(demo)

    simulate = sub.add_parser("simulate", help="run a study in one process (in-memory transport)")
    simulate.add_argument("study", type=Path)
    _common_run_args(simulate)

    provision = sub.add_parser("provision", help="create the CA and one startup kit per party")
    provision.add_argument("study", type=Path)
    provision.add_argument("--out", type=Path, default=Path("kits"), help="default: kits/")
    provision.add_argument("--valid-days", type=int, default=365)
    provision.add_argument("--force", action="store_true", help="overwrite an existing folder")

    dispatcher = sub.add_parser("dispatcher", help="run the dispatcher service")
    dispatcher.add_argument("--kit", type=Path, required=True)
    dispatcher.add_argument("--study", type=Path, help="default: the study.toml in the kit")
    dispatcher.add_argument("--host")
    dispatcher.add_argument("--port", type=int)
    dispatcher.add_argument("--port-file", type=Path, help="write the bound port here (with --port 0)")
    dispatcher.add_argument("--out", type=Path, default=Path("dispatcher-out"))
    dispatcher.add_argument("--exit-when-done", action="store_true")
    dispatcher.add_argument("--grants", type=Path, help="grant store (SQLite); default <out>/grants.db")

    node = sub.add_parser("node", help="run a hospital node (outbound connection only)")
    node.add_argument("--kit", type=Path, required=True)
    node.add_argument("--data", type=Path, required=True, help="the hospital's data file (.npz)")
    node.add_argument("--dispatcher", help="host:port, overriding the kit")
    node.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    node.add_argument("--threads", type=int, help="CPU threads for training")
    node.add_argument("--connect-timeout", type=float, default=30.0)
    node.add_argument(
        "--max-epsilon", type=float, help="this hospital's privacy budget: refuse rounds that would exceed it"
    )
    node.add_argument("--oplog", type=Path, help="this hospital's operation log (default <kit>/operations.jsonl)")
    node.add_argument(
        "--require-hidden-updates",
        action="store_true",
        help="site policy: refuse studies whose updates the aggregator would see in the clear "
        "(allow only secure aggregation or encryption)",
    )

    keys = sub.add_parser("keys", help="key management: generate, list, rotate, revoke, destroy, export-public")
    keys.add_argument("action", choices=["generate", "list", "rotate", "revoke", "destroy", "export-public"])
    keys.add_argument("--store", type=Path, required=True, help="the party's key store folder")
    keys.add_argument("--suite", default="gm", choices=["gm", "intl"], help="for generate (default gm: SM2)")
    keys.add_argument("--label", default="identity")
    keys.add_argument("--fingerprint", help="the key to revoke or destroy")
    keys.add_argument("--reason", default="", help="why it is revoked (e.g. key_compromise)")
    keys.add_argument("--passphrase-env", default="MEDFED_KEY_PASSPHRASE", help="variable holding the passphrase")

    certs = sub.add_parser("revoke-cert", help="revoke a party's certificate (checked at every connection)")
    certs.add_argument("--dispatcher-kit", type=Path, required=True)
    certs.add_argument("--kit", type=Path, required=True, help="the kit of the party whose certificate is revoked")
    certs.add_argument("--reason", default="unspecified")

    algorithm = sub.add_parser("algorithm", help="algorithm registry: publish, approve, verify (signed packages)")
    algorithm.add_argument("action", choices=["publish", "approve", "verify"])
    algorithm.add_argument("--store", type=Path, required=True, help="the registry (SQLite)")
    algorithm.add_argument("--publisher-kit", type=Path, required=True, help="the algorithm party's kit")
    algorithm.add_argument("--kit", type=Path, help="the hospital's kit (approve, verify)")

    audit = sub.add_parser("audit", help="verify a run's evidence: ledger chain, signatures, the nodes' own logs")
    audit.add_argument("path", type=Path, help="a run folder (made by medfed demo) or a ledger.db")
    audit.add_argument("--kits", type=Path, help="the study's kits (default <run>/kits)")
    audit.add_argument("--log", action="append", default=[], metavar="PARTY=PATH", help="a party's operation log")
    audit.add_argument("--json", action="store_true", help="print the report as JSON")

    grant = sub.add_parser("grant", help="data-use applications and grants (the data owner's consent)")
    grant.add_argument("action", choices=["list", "approve", "deny", "revoke"])
    grant.add_argument("--store", type=Path, required=True, help="the dispatcher's grant store (grants.db)")
    grant.add_argument("--dispatcher-kit", type=Path, required=True, help="holds the study and the owners' certificates")
    grant.add_argument("--kit", type=Path, help="the data owner's (hospital's) kit: signs approvals, records revocations")
    grant.add_argument("--id", help="application id (approve, deny) or grant id (revoke)")
    grant.add_argument("--reason", default="", help="why (deny, revoke)")

    party = sub.add_parser("party", help="run a party of a vertical study (data party or arbiter)")
    party.add_argument("--kit", type=Path, required=True)
    party.add_argument("--data", type=Path, help="the party's feature table (.npz); not for the arbiter")
    party.add_argument("--dispatcher", help="host:port, overriding the kit")
    party.add_argument("--connect-timeout", type=float, default=30.0)

    bench = sub.add_parser("bench", help="measurements the standard asks for")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    appendix = bench_sub.add_parser(
        "appendix-a", help="Appendix A: logistic regression, horizontal and vertical, A.1-A.3 tables"
    )
    appendix.add_argument("--out", type=Path, help="run folder (default runs/appendix-a-<timestamp>)")
    appendix.add_argument("--repeats", type=int, default=3, help="runs per scenario; the best time counts (A.2)")
    appendix.add_argument("--json", type=Path, help="also write the |Δ| and best times to this file")
    appendix.add_argument("--no-vertical", action="store_true", help="run the horizontal scenario only")
    appendix.add_argument("--iterations", type=int, default=10, help="vertical training iterations")
    appendix.add_argument(
        "--dataset",
        help="tabular dataset of the horizontal scenario (default: the study file's; e.g. breastmnist_radiomics)",
    )

    conformance = sub.add_parser("conformance", help="run the tests and report clause coverage")
    conformance.add_argument("--json", type=Path, required=True)
    conformance.add_argument("--html", type=Path)
    conformance.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    for module in _command_modules():
        module.register(sub)
    return parser


def _command_modules() -> list[ModuleType]:
    """Commands that live in their own module under ``medfed.cli``.

    Each module defines ``register(sub)``, which adds its parser(s) and sets ``run`` as the
    ``_run`` default, and ``run(args) -> int``.
    """
    return [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    ]


def _dispatch(args: argparse.Namespace) -> int:
    run = getattr(args, "_run", None)
    if run is not None:
        return int(run(args))
    if args.command in ("demo", "simulate"):
        from medfed.orchestration.runs import DEMO_STUDY, RunOptions, run_study

        study = args.study if args.command == "simulate" else (args.study or DEMO_STUDY)
        mode = "simulation" if args.command == "simulate" or args.simulation else "processes"
        run_study(
            RunOptions(
                study_path=study,
                out_dir=args.out,
                data_dir=args.data_dir,
                device=args.device,
                mode=mode,
                repeat=args.repeat,
                rounds=args.rounds,
            )
        )
        return 0
    if args.command == "provision":
        from medfed.core.config import load_study
        from medfed.provision import provision_study

        kits = provision_study(load_study(args.study), args.out, valid_days=args.valid_days, force=args.force)
        for name, kit in kits.items():
            print(f"{name:>16} ({kit.role.value}): {kit.directory}")
        return 0
    if args.command == "dispatcher":
        from medfed.dispatcher.process import run_dispatcher_process

        ok = run_dispatcher_process(
            args.kit,
            args.study,
            out_dir=args.out,
            host=args.host,
            port=args.port,
            port_file=args.port_file,
            exit_when_done=args.exit_when_done,
            grants_path=args.grants,
        )
        return 0 if ok else 3
    if args.command == "node":
        from medfed.node.process import run_node_process

        ok = run_node_process(
            args.kit,
            args.data,
            dispatcher=args.dispatcher,
            device=args.device,
            threads=args.threads,
            connect_timeout=args.connect_timeout,
            max_epsilon=args.max_epsilon,
            require_hidden_updates=args.require_hidden_updates,
            oplog_path=args.oplog,
        )
        return 0 if ok else 3
    if args.command == "keys":
        from medfed.crypto import KeyStore
        from medfed.orchestration.keys import run_keys

        print(run_keys(
            args.action, KeyStore(args.store), suite=args.suite, label=args.label,
            fingerprint=args.fingerprint, reason=args.reason, env=args.passphrase_env,
        ))
        return 0
    if args.command == "revoke-cert":
        from medfed.pki import load_kit
        from medfed.pki.revocation import revoke_certificate

        kit = load_kit(args.kit)
        entry = revoke_certificate(args.dispatcher_kit, kit.name, kit.cert_path.read_bytes(), reason=args.reason)
        print(f"revoked the certificate of {entry['party']} ({entry['reason']}): refused from its next connection")
        return 0
    if args.command == "algorithm":
        from medfed.orchestration import algorithms

        if args.action == "publish":
            package = algorithms.publish(args.publisher_kit, args.store)
            print(f"published {package.algorithm_id} {package.version}: code hash {package.code_hash}")
            return 0
        if args.kit is None:
            raise ConfigError(f"algorithm {args.action} needs --kit (the hospital's kit)")
        if args.action == "approve":
            print(f"approved code hash {algorithms.approve(args.kit, args.store, args.publisher_kit)}")
        else:
            package = algorithms.verify(args.kit, args.store, args.publisher_kit)
            print(f"the installed code is {package.algorithm_id} {package.version}, signed and approved")
        return 0
    if args.command == "audit":
        from medfed.orchestration.audit_run import audit_path

        report, text = audit_path(args.path, kits=args.kits, logs=args.log, as_json=args.json)
        print(text)
        return 0 if report.ok else 4
    if args.command == "grant":
        return _grant(args)
    if args.command == "party":
        from medfed.node.party_process import run_party_process

        ok = run_party_process(args.kit, args.data, dispatcher=args.dispatcher, connect_timeout=args.connect_timeout)
        return 0 if ok else 3
    if args.command == "bench":
        import json
        from datetime import datetime

        from medfed.orchestration.appendix_a import AppendixOptions, run_appendix_a

        if args.repeats < 1:
            raise ConfigError(f"--repeats must be >= 1, not {args.repeats}")
        out = args.out or Path("runs") / f"appendix-a-{datetime.now():%Y%m%d-%H%M%S}"
        summary = run_appendix_a(
            AppendixOptions(
                out_dir=out,
                repeats=args.repeats,
                vertical=not args.no_vertical,
                vertical_iterations=args.iterations,
                horizontal_dataset=args.dataset,
            )
        )
        if args.json:
            args.json.write_text(json.dumps(summary) + "\n", encoding="utf-8")
        return 0
    if args.command == "conformance":
        from medfed.conformance import run_conformance

        return run_conformance(args.json, args.html, args.pytest_args)
    raise AssertionError(args.command)


def _grant(args: argparse.Namespace) -> int:
    from medfed.core.config import load_study
    from medfed.orchestration import consent

    study = load_study(args.dispatcher_kit / "study.toml")
    book = consent.open_book(study, args.dispatcher_kit, args.store)
    if args.action == "list":
        for app in consent.applications(args.store):
            r = app.request
            print(f"{app.application_id}  {app.status.value:<8}  {r.hospital}  {r.dataset_id}  task {r.task_id}  "
                  f"purpose {r.purpose!r}  grant {app.grant_id or '-'}")
        return 0
    if not args.id:
        raise ConfigError(f"grant {args.action} needs --id")
    if args.action == "approve":
        if args.kit is None:
            raise ConfigError("grant approve needs --kit: the data owner signs with the hospital's key")
        signed = consent.approve(book, args.id, args.kit, study=study)
        print(f"approved {args.id}: grant {signed.grant_id} until {signed.scope.expires_at:.0f}")
    elif args.action == "deny":
        consent.deny(book, args.id, args.reason or "denied by the data owner")
        print(f"denied {args.id}")
    else:
        consent.revoke(book, args.id, args.reason or "revoked by the data owner", owner_kit=args.kit)
        print(f"revoked {args.id}: the hospital's next round is refused")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        # demo/simulate show a progress display; services log every event.
        level=logging.DEBUG
        if args.verbose
        else (logging.WARNING if args.command in ("demo", "simulate") else logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return _dispatch(args)
    except MedfedError as exc:
        print(f"medfed {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"medfed {args.command}: interrupted", file=sys.stderr)
        return 130
