"""Secure aggregation through a whole study: the dispatcher only ever sees masked vectors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from medfed.core import serde
from medfed.core.config import Mechanism, Partition, PrivacyConfig, load_study
from medfed.core.messages import NodeUpdate, SecAggMessage
from medfed.orchestration.scenario import prepare_scenario
from medfed.simulation import simulate

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pneumonia-3-hospitals.toml"
CPU = torch.device("cpu")


def _study(**privacy: object):
    base = load_study(EXAMPLE)
    return replace(
        base,
        data=replace(base.data, dataset="breastmnist", partition=Partition.IID),
        privacy=PrivacyConfig(**privacy),
    ).with_training(rounds=2, batch_size=32)


@pytest.mark.clause("5.5.1.1a", "5.4.1")
def test_secure_study_reaches_the_plain_fedavg_model(medmnist_dir: Path) -> None:
    # One round: the secure sum must equal FedAvg up to the 2^-12 fixed-point step.
    plain = _study().with_training(rounds=1)
    secure = _study(secure_aggregation=True).with_training(rounds=1)
    scenario = prepare_scenario(plain, data_dir=medmnist_dir)
    a = simulate(plain, scenario.datasets, device=CPU)
    b = simulate(secure, scenario.datasets, device=CPU)
    for key, value in a.params.items():
        if value.dtype.kind == "f":
            np.testing.assert_allclose(b.params[key], value, rtol=0, atol=2e-5, err_msg=key)
    rounds = b.summary["rounds"]
    assert [r["accepted"] for r in rounds] == [list(secure.hospitals)]
    assert rounds[0]["metrics"]["train_loss"] > 0
    # Masked vectors cost about as much as plain updates on the wire.
    upload = sum(c["bytes_sent"] for c in rounds[0]["clients"].values())
    plain_upload = sum(c["bytes_sent"] for c in a.summary["rounds"][0]["clients"].values())
    assert upload < 1.3 * plain_upload


@pytest.mark.clause("5.5.1.1a")
def test_no_plain_update_leaves_a_node_under_secure_aggregation(medmnist_dir: Path, monkeypatch) -> None:
    import medfed.simulation as simulation

    sent: list[bytes] = []
    original = simulation.respond

    def recording(worker, frame):
        reply = original(worker, frame)
        if isinstance(reply, bytes):
            sent.append(reply)
        return reply

    monkeypatch.setattr(simulation, "respond", recording)
    study = _study(secure_aggregation=True)
    scenario = prepare_scenario(study, data_dir=medmnist_dir)
    simulate(study, scenario.datasets, device=CPU)
    messages = [serde.decode(frame) for frame in sent]
    assert messages and not any(isinstance(m, NodeUpdate) for m in messages)
    stages = [m.stage for m in messages if isinstance(m, SecAggMessage)]
    assert stages.count("masked") == 6 and stages.count("advertise") == 6
    for m in messages:
        assert isinstance(m, SecAggMessage)
        assert set(m.params) <= {"masked"}
        if m.stage == "masked":
            data = m.params["masked"]
            counts = np.bincount(data, minlength=256)
            expected = data.size / 256
            chi2 = float(((counts - expected) ** 2 / expected).sum())
            assert chi2 < 400  # 255 degrees of freedom: uniform-looking bytes


@pytest.mark.clause("5.4.3.3-4", "5.5.1.1a")
def test_client_level_dp_under_secure_aggregation_uses_distributed_noise(medmnist_dir: Path) -> None:
    plain = _study(mechanism=Mechanism.DP_FEDAVG, noise_multiplier=1.0, clip_norm=0.5, secure_aggregation=True)
    scenario = prepare_scenario(plain, data_dir=medmnist_dir)
    outcome = simulate(plain, scenario.datasets, device=CPU)
    # Epsilon would reveal a hospital's sample count: under secure aggregation it stays at the node.
    assert all(r["epsilon"] == {} for r in outcome.summary["rounds"])
    assert all("unclipped" not in r["metrics"] for r in outcome.summary["rounds"])
    # One round: the mean moves by the clipped updates (norm <= 0.5 in 206k values: tiny) plus
    # the noise shares, 3 of variance (sigma C)^2 / t with t = 2, divided by 3 nodes.
    from medfed.dispatcher.setup import initial_params

    one = simulate(plain.with_training(rounds=1), scenario.datasets, device=CPU)
    start = initial_params(plain)
    moved = np.concatenate([(one.params[k] - start[k]).ravel() for k in start if start[k].dtype.kind == "f"])
    expected = np.sqrt(3 * (1.0 * 0.5) ** 2 / 2) / 3
    assert moved.std() == pytest.approx(expected, rel=0.05)


@pytest.mark.clause("5.4.3.3-4", "5.5.1.1a")
def test_dp_sgd_combines_with_secure_aggregation(medmnist_dir: Path) -> None:
    study = _study(mechanism=Mechanism.DP_SGD, noise_multiplier=1.1, secure_aggregation=True).with_training(
        model="cnn2d_gn", rounds=1
    )
    scenario = prepare_scenario(study, data_dir=medmnist_dir)
    outcome = simulate(study, scenario.datasets, device=CPU)
    assert outcome.summary["rounds"][0]["accepted"] == list(study.hospitals)
    assert outcome.summary["rounds"][0]["epsilon"] == {}
