"""``medfed console``: the dispatcher's web console over HTTPS, and ``medfed console add-user``."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from medfed.errors import ConfigError
from medfed.roles import Role

_PASSWORD_ENV = "MEDFED_CONSOLE_PASSWORD"


def register(sub: Any) -> None:
    console = sub.add_parser("console", help="the dispatcher's web console (HTTPS): tasks, nodes, consent, ledger, reports")
    console.add_argument("--kit", type=Path, help="the dispatcher's kit (its certificate serves HTTPS)")
    console.add_argument("--store", help="the task store: tasks.db, sqlite:///path or postgresql+psycopg://...")
    console.add_argument("--users", type=Path, help="the console's user database (medfed console add-user)")
    console.add_argument("--grants", type=Path, help="the dispatcher's grant store (grants.db)")
    console.add_argument("--ledger", type=Path, help="the notary's ledger (<dispatcher out>/ledger.db)")
    console.add_argument("--runs", type=Path, default=Path("runs"), help="run folders: reports, and the local worker's output")
    console.add_argument("--data-dir", type=Path, help="MedMNIST files for the local worker (or $MEDFED_DATA_DIR)")
    console.add_argument(
        "--owner-kit", action="append", default=[], metavar="HOSPITAL=KIT",
        help="a data owner's kit on this machine, so its owner can approve here (repeatable)",
    )
    console.add_argument("--host", default="127.0.0.1")
    console.add_argument("--port", type=int, default=8443)
    console.add_argument("--port-file", type=Path, help="write the bound port here (with --port 0)")
    console.add_argument("--no-worker", action="store_true", help="run no local task worker")
    console.add_argument("--node-id", default="console-local", help="the local worker's node id")
    actions = console.add_subparsers(dest="console_action")
    add_user = actions.add_parser("add-user", help=f"create a console account (password from ${_PASSWORD_ENV} or a prompt)")
    add_user.add_argument("--users", type=Path, required=True)
    add_user.add_argument("--name", required=True)
    add_user.add_argument("--role", required=True, choices=[r.value for r in Role])
    add_user.add_argument("--party", default="", help="the party the account acts for (a data owner's hospital)")
    add_user.add_argument("--kit", type=Path, help="the dispatcher's kit: checks --party against the study")
    add_user.add_argument("--password-env", default=_PASSWORD_ENV, help="variable holding the password")
    console.set_defaults(_run=run)


def _password(env: str) -> str:
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise ConfigError(f"no password: set ${env} or run interactively to be prompted")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConfigError("the two passwords differ")
    return first


def _add_user(args: argparse.Namespace) -> int:
    from medfed.console import Accounts
    from medfed.core.config import load_study

    role = Role(args.role)
    if args.kit is not None and args.party:
        study = load_study(args.kit / "study.toml")
        allowed = study.hospitals if role is Role.DATA else tuple(p.name for p in study.parties)
        if args.party not in allowed:
            raise ConfigError(f"--party {args.party!r} is not a {'hospital' if role is Role.DATA else 'party'} "
                              f"of study {study.study_id!r} ({', '.join(allowed)})")
    if not args.users.parent.is_dir():
        raise ConfigError(f"folder {args.users.parent} does not exist")
    accounts = Accounts(args.users)
    try:
        account = accounts.add(args.name, _password(args.password_env), role, party=args.party)
    finally:
        accounts.close()
    party = f" for {account.party}" if account.party else ""
    print(f"account {account.name}: {account.role.value}{party} in {args.users}")
    return 0


def _owner_kits(items: list[str]) -> dict[str, Path]:
    kits = {}
    for item in items:
        hospital, sep, path = item.partition("=")
        if not sep or not hospital or not path:
            raise ConfigError(f"--owner-kit takes HOSPITAL=KIT, not {item!r}")
        kits[hospital] = Path(path)
    return kits


def run(args: argparse.Namespace) -> int:
    if args.console_action == "add-user":
        return _add_user(args)
    missing = [f"--{name}" for name in ("kit", "store", "users") if getattr(args, name) is None]
    if missing:
        raise ConfigError(f"medfed console needs {', '.join(missing)}")
    if not args.users.is_file():
        raise ConfigError(f"no user database at {args.users}: create an account with medfed console add-user")
    from medfed.console import ConsoleSettings, serve_console

    settings = ConsoleSettings(
        kit=args.kit,
        store=args.store,
        users=args.users,
        grants=args.grants,
        ledger=args.ledger,
        runs=args.runs,
        owner_kits=_owner_kits(args.owner_kit),
        data_dir=args.data_dir,
        worker=not args.no_worker,
        node_id=args.node_id,
    )
    serve_console(settings, host=args.host, port=args.port, port_file=args.port_file)
    return 0
