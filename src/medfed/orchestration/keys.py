"""``medfed keys``: a party's key management (5.5.1.3c) over ``medfed.crypto.KeyStore``.

generate · list · rotate · revoke · destroy · export-public. Private keys are stored
encrypted at rest (argon2id-derived key, SM4-GCM or AES-256-GCM), files mode 0600. The
passphrase is read from the environment variable named by ``--passphrase-env`` (default
``MEDFED_KEY_PASSPHRASE``) or asked for on the terminal — never from the command line,
where other users could read it in the process list.
"""

from __future__ import annotations

import getpass
import os

from medfed.crypto import KeyStore, get_suite
from medfed.errors import ConfigError

PASSPHRASE_ENV = "MEDFED_KEY_PASSPHRASE"


def passphrase(env: str = PASSPHRASE_ENV, *, confirm: bool = False) -> bytes:
    value = os.environ.get(env)
    if value is None:
        value = getpass.getpass("key passphrase: ")
        if confirm and getpass.getpass("again: ") != value:
            raise ConfigError("the two passphrases differ")
    if len(value) < 12:
        raise ConfigError("a key passphrase needs at least 12 characters")
    return value.encode()


def run_keys(action: str, store: KeyStore, *, suite: str, label: str, fingerprint: str | None, reason: str, env: str) -> str:
    """Perform one action; returns what to print."""
    if action == "list":
        rows = [
            f"{r.fingerprint[:16]}  {r.label:<10} {r.suite:<5} {r.status.value:<9} created {r.created:%Y-%m-%d}"
            for r in store.records()
        ]
        return "\n".join(rows) or "no keys"
    if action == "generate":
        rec = store.generate(get_suite(suite), passphrase(env, confirm=True), label=label)
        return f"generated {rec.suite} key {rec.fingerprint}"
    if action == "rotate":
        rec = store.rotate(passphrase(env), label=label)
        return f"rotated: {rec.fingerprint} is now the current {label!r} key"
    if action == "export-public":
        return store.current(label).public_pem
    if fingerprint is None:
        raise ConfigError(f"keys {action} needs --fingerprint")
    if action == "revoke":
        revoked = store.revoke(fingerprint, reason or "unspecified")
        return f"revoked {revoked.fingerprint}: {revoked.reason}"
    if action == "destroy":
        rec = store.destroy(fingerprint)
        return f"destroyed {rec.fingerprint} (overwritten, then deleted)"
    raise ConfigError(f"unknown keys action {action!r}")
