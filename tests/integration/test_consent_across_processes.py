"""Consent across real processes: the dispatcher waits on applications until the data owners
approve them with `medfed grant`, then the study runs (5.5.1.2e–g)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import make_site


def _grant(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "medfed", "grant", *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
@pytest.mark.clause("5.5.1.2e", "5.5.1.2f", "5.5.1.2g")
def test_the_study_waits_for_the_data_owners_and_runs_once_they_approve(tmp_path: Path, medmnist_dir: Path) -> None:
    site = make_site(tmp_path / "site", medmnist_dir, approve=False, rounds=1)
    store = ["--store", str(site.grants), "--dispatcher-kit", str(site.kits / "dispatcher")]
    deployment = site.deployment()
    try:
        deployment.start_dispatcher()
        for name in site.study.hospitals:
            deployment.start_node(name)
        deadline = time.monotonic() + 90
        pending: list[tuple[str, str]] = []
        while time.monotonic() < deadline:
            if site.grants.exists():
                listing = _grant("list", *store)
                pending = re.findall(r"^(app-\S+)\s+pending\s+(\S+)", listing, re.M)
                if len(pending) == 3:
                    break
            time.sleep(1)
        assert len(pending) == 3, "each hospital's missing grant becomes a pending application"
        rounds = tmp_path / "site" / "run" / "dispatcher" / "rounds.jsonl"
        assert not rounds.exists() or not rounds.read_text().strip()  # no round has run
        # A hospital's data owner cannot approve for another hospital.
        wrong = subprocess.run(
            [sys.executable, "-m", "medfed", "grant", "approve", *store, "--id", pending[0][0],
             "--kit", str(site.kits / ("hospital-b" if pending[0][1] != "hospital-b" else "hospital-c"))],
            capture_output=True, text=True, timeout=120,
        )
        assert wrong.returncode != 0
        for app_id, hospital in pending:
            assert "approved" in _grant("approve", *store, "--id", app_id, "--kit", str(site.kits / hospital))
        result = deployment.wait_for_result()
        assert result.ok, result.reason
        assert [r["accepted"] for r in result.summary["rounds"]] == [sorted(site.study.hospitals)]
        deployment.stop()
    except BaseException:
        deployment.kill_all()
        raise
