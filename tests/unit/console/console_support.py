"""Helpers shared by the console tests: accounts, settings, TLS clients that trust the study's CA."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from medfed.authn import Argon2Params, LockoutPolicy
from medfed.console import ConsoleSettings
from medfed.console.sessions import COOKIE, LOGIN_COOKIE
from medfed.roles import Role

PASSWORD = "correct horse battery staple"
FAST = Argon2Params.fast_insecure()
USERS = {
    "ines": (Role.INITIATOR, ""),
    "olga": (Role.DATA, "hospital-a"),
    "omar": (Role.DATA, "hospital-b"),
    "rita": (Role.RESULT, ""),
    "lena": (Role.INITIATOR, ""),  # for the lockout test only
}


@dataclass(frozen=True)
class Study:
    kits: Path
    root: Path

    @property
    def dispatcher(self) -> Path:
        return self.kits / "dispatcher"


def settings_for(study: Study, name: str, *, worker: bool, data_dir: Path | None = None) -> ConsoleSettings:
    return ConsoleSettings(
        kit=study.dispatcher,
        store=str(study.root / f"{name}-tasks.db"),
        users=study.root / "users.db",
        grants=study.root / "grants.db",
        ledger=study.root / "ledger.db",
        runs=study.root / f"{name}-runs",
        owner_kits={"hospital-a": study.kits / "hospital-a"},
        data_dir=data_dir,
        worker=worker,
        node_id=f"{name}-node",
        argon2=FAST,
        lockout=LockoutPolicy(max_failures=3, lock_s=600),
        refresh_ms=300,
    )


def trust(study: Study) -> ssl.SSLContext:
    """A client context that trusts only the study's CA (and checks the host name)."""
    context = ssl.create_default_context(cafile=str(study.dispatcher / "ca.pem"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def client(study: Study, url: str) -> httpx.Client:
    return httpx.Client(base_url=url, verify=trust(study), follow_redirects=False, timeout=30)


@contextmanager
def log_in(study: Study, url: str, name: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
    """A client holding a session of ``name``."""
    with client(study, url) as c:
        c.get("/login")
        response = c.post("/login", data={"username": name, "password": password, "login_csrf": c.cookies[LOGIN_COOKIE]})
        assert response.status_code == 303, response.text
        assert COOKIE in c.cookies
        yield c
