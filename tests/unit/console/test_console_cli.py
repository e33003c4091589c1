"""``medfed console add-user`` and ``medfed console`` as a real process on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from medfed.cli import main
from medfed.console import Accounts
from medfed.console.sessions import LOGIN_COOKIE
from medfed.roles import Role
from tests.unit.console.console_support import trust


def test_add_user_reads_the_password_from_the_environment(tmp_path, monkeypatch, capsys):
    users = tmp_path / "users.db"
    monkeypatch.setenv("MEDFED_CONSOLE_PASSWORD", "a long enough password")
    code = main(["console", "add-user", "--users", str(users), "--name", "dora", "--role", "data", "--party", "hospital-a"])
    assert code == 0 and "dora: data for hospital-a" in capsys.readouterr().out
    accounts = Accounts(users)
    assert accounts.get("dora").role is Role.DATA and accounts.get("dora").party == "hospital-a"
    accounts.close()


def test_add_user_refuses_what_cannot_work(study, tmp_path, monkeypatch, capsys):
    users = tmp_path / "users.db"
    monkeypatch.setenv("MEDFED_CONSOLE_PASSWORD", "a long enough password")
    # A data owner must say which hospital; the hospital must be one of the study's.
    assert main(["console", "add-user", "--users", str(users), "--name", "x", "--role", "data"]) == 2
    assert "--party" in capsys.readouterr().err
    assert main(["console", "add-user", "--users", str(users), "--name", "x", "--role", "data",
                 "--party", "hospital-z", "--kit", str(study.dispatcher)]) == 2
    assert "hospital-z" in capsys.readouterr().err
    monkeypatch.setenv("MEDFED_CONSOLE_PASSWORD", "short")
    assert main(["console", "add-user", "--users", str(users), "--name", "x", "--role", "initiator"]) == 2
    assert "password must have" in capsys.readouterr().err
    monkeypatch.delenv("MEDFED_CONSOLE_PASSWORD")
    assert main(["console", "add-user", "--users", str(users), "--name", "x", "--role", "initiator"]) == 2
    assert "MEDFED_CONSOLE_PASSWORD" in capsys.readouterr().err
    assert Accounts(users).get("x") is None


def test_console_without_its_stores_says_what_is_missing(capsys):
    assert main(["console", "--kit", "k"]) == 2
    assert "--store, --users" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.clause("5.7.1.1")
def test_console_command_serves_https_and_writes_its_port(study, tmp_path):
    port_file = tmp_path / "port"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "medfed", "console", "--kit", str(study.dispatcher), "--store", str(tmp_path / "t.db"),
         "--users", str(study.root / "users.db"), "--runs", str(tmp_path / "runs"), "--port", "0",
         "--port-file", str(port_file), "--no-worker"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        url = _wait_for_console(port_file, process)
        with httpx.Client(base_url=url, verify=trust(study)) as c:
            assert c.get("/api/tasks").status_code == 401
            c.get("/login")
            # The users of the session's study were enrolled with the test's fast argon2 parameters;
            # the command's own (RFC 9106) parameters still verify them.
            response = c.post("/login", data={"username": "rita", "password": "correct horse battery staple",
                                              "login_csrf": c.cookies[LOGIN_COOKIE]})
            assert response.status_code == 303
            assert c.get("/api/tasks").json() == {"tasks": []}
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output


def _wait_for_console(port_file: Path, process: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the console exited: {process.communicate()[0]}")
        if port_file.is_file():
            url = f"https://127.0.0.1:{port_file.read_text()}"
            try:
                httpx.get(url + "/login", verify=False, timeout=2)
                return url
            except httpx.TransportError:
                pass
        time.sleep(0.2)
    raise AssertionError("the console did not write its port within 60 s")
