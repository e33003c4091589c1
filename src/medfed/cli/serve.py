"""``medfed serve``: the cloud inference service, and its two helper actions.

medfed serve BUNDLE --trusted-ca ca.pem --kit KIT [--host H] [--port 8443] ...
medfed serve token --kit KIT [--subject NAME] [--ttl SECONDS]   print an API token
medfed serve user --kit KIT --name NAME                          enrol a web user
medfed serve kit --kit NEW_KIT --ca kits/ca --service-host HOST  issue the service's own kit
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from medfed.errors import ConfigError

_ACTIONS = ("token", "user", "kit")
_PASSWORD_ENV = "MEDFED_SERVE_PASSWORD"


def register(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="serve a signed model bundle over HTTPS: REST API and a web page (5.7.1.1)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "target", metavar="BUNDLE|token|user|kit", help="the bundle to serve, or a helper action"
    )
    serve.add_argument(
        "--kit", type=Path, required=True, help="the kit whose certificate and key the service uses"
    )
    serve.add_argument(
        "--trusted-ca", type=Path, help="the study CA that signed the bundle's signer (serving)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--port", type=int, default=8443, help="0 picks a free port (see --port-file)"
    )
    serve.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    serve.add_argument(
        "--keep-uploads",
        type=Path,
        metavar="DIR",
        help="keep every classified image here, mode 0600 (default: uploads never touch the disk)",
    )
    serve.add_argument(
        "--max-upload-mb", type=float, default=8.0, help="largest accepted image (default 8 MiB)"
    )
    serve.add_argument("--state", type=Path, help="token key and user store (default <kit>/serve)")
    serve.add_argument(
        "--token-file", type=Path, help="at start, write an API token here (mode 0600)"
    )
    serve.add_argument(
        "--ttl", type=int, default=3600, help="API token lifetime in seconds (token, --token-file)"
    )
    serve.add_argument("--subject", help="who the API token is for (token; default the kit's name)")
    serve.add_argument("--name", help="the web user's name (user)")
    serve.add_argument(
        "--password-env",
        default=_PASSWORD_ENV,
        help=f"variable holding the password (user; default {_PASSWORD_ENV})",
    )
    serve.add_argument("--ca", type=Path, help="the study CA folder (kit): it issues the service certificate")
    serve.add_argument(
        "--service-host",
        action="append",
        default=[],
        help="kit: a DNS name or IP address clients reach the service by (repeat for several)",
    )
    serve.add_argument("--valid-days", type=int, default=365, help="kit: certificate lifetime")
    serve.set_defaults(_run=run)


def run(args: argparse.Namespace) -> int:
    if args.target == "token":
        return _token(args)
    if args.target == "user":
        return _user(args)
    if args.target == "kit":
        return _kit(args)
    from medfed.deployment.serve import ServeOptions, serve_until_signalled

    if args.trusted_ca is None:
        raise ConfigError(
            "medfed serve BUNDLE needs --trusted-ca (the study CA, to verify the bundle's signature)"
        )
    serve_until_signalled(
        ServeOptions(
            bundle=Path(args.target),
            trusted_ca=args.trusted_ca,
            kit=args.kit,
            host=args.host,
            port=args.port,
            port_file=args.port_file,
            keep_uploads=args.keep_uploads,
            max_upload_bytes=int(args.max_upload_mb * 2**20),
            state_dir=args.state,
            token_file=args.token_file,
            token_ttl_s=args.ttl,
        )
    )
    return 0


def _token(args: argparse.Namespace) -> int:
    from medfed.deployment.serve import open_auth
    from medfed.pki import load_kit

    kit = load_kit(args.kit)
    auth = open_auth(kit, args.state)
    try:
        print(auth.issue_api_token(args.subject or kit.name, ttl_s=args.ttl))
    finally:
        auth.close()
    return 0


def _user(args: argparse.Namespace) -> int:
    from medfed.deployment.serve import open_auth
    from medfed.pki import load_kit

    if not args.name:
        raise ConfigError("medfed serve user needs --name")
    password = os.environ.get(args.password_env)
    if password is None:
        if not sys.stdin.isatty():
            raise ConfigError(
                f"set ${args.password_env} to the new user's password (no terminal to ask on)"
            )
        password = getpass.getpass(f"password for {args.name}: ")
    kit = load_kit(args.kit)
    auth = open_auth(kit, args.state)
    try:
        auth.enrol(args.name, password)
    finally:
        auth.close()
    print(f"web user {args.name!r} can now log in to the service of study {kit.study_id!r}")
    return 0


def _kit(args: argparse.Namespace) -> int:
    """A kit of its own for the service: a certificate naming the hosts clients check.

    The role is AUX, never RESULT: the result party's key signs bundles and must not sit on a
    network-facing server.
    """
    from medfed.pki import CertificateAuthority, write_kit
    from medfed.roles import Role

    if args.ca is None or not args.service_host:
        raise ConfigError("medfed serve kit needs --ca (the study CA folder) and at least one --service-host")
    if args.kit.exists() and any(args.kit.iterdir()):
        raise ConfigError(f"{args.kit} already exists and is not empty; choose a new folder for the service kit")
    ca = CertificateAuthority.load(args.ca)
    issued = ca.issue("inference", Role.AUX, hosts=list(args.service_host), valid_days=args.valid_days)
    write_kit(args.kit, issued, ca_pem=ca.cert_pem, study_id=ca.study_id, dispatcher_host=args.service_host[0], dispatcher_port=0)
    print(f"service kit in {args.kit}: certificate for {', '.join(args.service_host)}")
    return 0
