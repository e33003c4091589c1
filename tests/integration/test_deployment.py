"""A study across real processes over mutual TLS, compared with the in-process simulation."""

from __future__ import annotations

import json
import signal
import time

import numpy as np
import pytest
import torch

from medfed.orchestration.processes import run_processes
from medfed.simulation import simulate

pytestmark = pytest.mark.slow


@pytest.mark.clause("5.4.2.3e-f", "5.4.2.3g", "5.4.2.3h", "A.3")
def test_processes_and_simulation_reach_the_same_model(site) -> None:
    launch = site.deployment().launch
    deployed = run_processes(site.study, launch)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the node processes train with one thread each
    try:
        simulated = simulate(site.study, site.scenario.datasets, device=torch.device("cpu"))
    finally:
        torch.set_num_threads(threads)

    assert sorted(deployed.params) == sorted(simulated.params)
    for key, value in deployed.params.items():
        np.testing.assert_allclose(value, simulated.params[key], rtol=1e-5, atol=1e-6, err_msg=key)
    rounds = deployed.summary["rounds"]
    assert [r["round"] for r in rounds] == [1, 2]
    for entry in rounds:
        assert entry["accepted"] == list(site.study.hospitals)
        assert entry["server"]["bytes_sent"] > 3 * 800_000  # three copies of ~206k float32 parameters
        assert entry["server"]["bytes_received"] == sum(c["bytes_sent"] for c in entry["clients"].values())
        assert all(c["seconds"] > 0 for c in entry["clients"].values())
    # The same frames go out in both modes. Only each task's data-use grant differs (other owner
    # keys, ids, times and a DER signature of varying length): a few bytes per hospital at most.
    for r, s in zip(rounds, simulated.summary["rounds"], strict=True):
        assert abs(r["server"]["bytes_sent"] - s["server"]["bytes_sent"]) <= 3 * 64


def _start_all_and_wait_for_round_one(deployment) -> None:
    deployment.start_dispatcher()
    for name in deployment.study.hospitals:
        deployment.start_node(name)
    rounds_log = deployment.launch.work_dir / "dispatcher" / "rounds.jsonl"
    deadline = time.monotonic() + 120
    while not rounds_log.exists() or not rounds_log.read_text().strip():
        assert time.monotonic() < deadline, "round 1 never closed"
        time.sleep(0.05)


@pytest.mark.clause("5.4.2.3e-f")
def test_node_killed_mid_round_lets_the_round_finish_with_the_others(tmp_path, medmnist_dir) -> None:
    from tests.integration.conftest import make_site

    site = make_site(tmp_path / "site", medmnist_dir, rounds=4, min_nodes=2)
    deployment = site.deployment()
    try:
        _start_all_and_wait_for_round_one(deployment)
        victim = deployment.nodes["hospital-c"]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        result = deployment.wait_for_result()
        assert result.ok, result.reason
        rounds = result.summary["rounds"]
        assert len(rounds) == 4
        later = [r for r in rounds if "hospital-c" not in r["accepted"]]
        assert later, "the killed node still counted in every round"
        assert all(r["accepted"] == ["hospital-a", "hospital-b"] for r in later[1:])
        assert any("disconnected" in why for r in later for why in r["dropped"].values()) or later[0][
            "participants"
        ] == ["hospital-a", "hospital-b"]
        assert deployment.dispatcher.poll() is None  # still serving
    finally:
        deployment.stop()
        deployment.kill_all()


def test_losing_nodes_below_the_minimum_fails_with_a_reason_and_the_dispatcher_lives(
    tmp_path, medmnist_dir
) -> None:
    from tests.integration.conftest import make_site

    site = make_site(tmp_path / "site", medmnist_dir, rounds=5, min_nodes=3)
    deployment = site.deployment()
    try:
        _start_all_and_wait_for_round_one(deployment)
        deployment.nodes["hospital-b"].kill()
        result = deployment.wait_for_result()
        assert not result.ok
        assert "fewer than min_nodes=3" in result.reason and "hospital-b" in result.reason
        assert deployment.dispatcher.poll() is None
        summary_path = deployment.launch.work_dir / "dispatcher" / "summary.json"
        deadline = time.monotonic() + 15  # written just after the study ends
        while not summary_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        summary = json.loads(summary_path.read_text())
        assert summary["ok"] is False and len(summary["rounds"]) >= 1  # finished rounds kept
    finally:
        deployment.stop()
        deployment.kill_all()


def test_missing_nodes_fail_the_study_naming_them(tmp_path, medmnist_dir) -> None:
    from tests.integration.conftest import make_site

    site = make_site(tmp_path / "site", medmnist_dir, rounds=1, join_timeout=15, min_nodes=3)
    deployment = site.deployment()
    try:
        deployment.start_dispatcher()
        deployment.start_node("hospital-a")
        result = deployment.wait_for_result()
        assert not result.ok and "missing: hospital-b, hospital-c" in result.reason
        assert "only 1 of 3 nodes joined" in result.reason
    finally:
        deployment.stop()
        deployment.kill_all()
