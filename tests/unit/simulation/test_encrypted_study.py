"""Homomorphically encrypted FedAvg through a whole study: the aggregator adds ciphertexts only."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from medfed.aggregation.sealed import is_sealed
from medfed.core import serde
from medfed.core.config import Encryption, Mechanism, Partition, PrivacyConfig, load_study
from medfed.core.messages import NodeUpdate, TrainTask
from medfed.errors import ConfigError
from medfed.orchestration.results import evaluate_params
from medfed.orchestration.scenario import prepare_scenario
from medfed.simulation import simulate

ROOT = Path(__file__).resolve().parents[3]
HORIZONTAL = ROOT / "src" / "medfed" / "orchestration" / "appendix_a_horizontal.toml"
CPU = torch.device("cpu")


def _pneumonia(encryption: Encryption, rounds: int = 2):
    base = load_study(ROOT / "examples" / "pneumonia-3-hospitals.toml")
    return replace(
        base, data=replace(base.data, partition=Partition.DIRICHLET), privacy=PrivacyConfig(encryption=encryption)
    ).with_training(rounds=rounds)


@pytest.mark.clause("5.4.3.4-1", "5.4.3.4-4")
def test_ckks_encrypted_fedavg_matches_plain_fedavg_on_pneumonia(medmnist_dir: Path) -> None:
    plain, sealed = _pneumonia(Encryption.NONE), _pneumonia(Encryption.CKKS)
    scenario = prepare_scenario(plain, data_dir=medmnist_dir)
    a = simulate(plain, scenario.datasets, device=CPU)
    b = simulate(sealed, scenario.datasets, device=CPU)
    worst = max(float(np.abs(b.params[k] - v).max()) for k, v in a.params.items() if v.dtype.kind == "f")
    assert worst < 1e-3
    auc_plain = evaluate_params(plain, scenario, a.params, device=CPU)[0].auc
    auc_sealed = evaluate_params(sealed, scenario, b.params, device=CPU)[0].auc
    assert abs(auc_plain - auc_sealed) <= 0.005
    assert auc_sealed > 0.8
    assert [r["accepted"] for r in b.summary["rounds"]] == [list(sealed.hospitals)] * 2


@pytest.mark.clause("5.4.3.4-1", "5.4.3.4-2")
def test_paillier_encrypted_logistic_regression_matches_plain(medmnist_dir: Path) -> None:
    base = load_study(HORIZONTAL).with_training(rounds=3)
    plain = replace(base, privacy=PrivacyConfig())
    scenario = prepare_scenario(plain, data_dir=medmnist_dir)
    a = simulate(plain, scenario.datasets, device=CPU)
    b = simulate(base, scenario.datasets, device=CPU)
    for key, value in a.params.items():
        np.testing.assert_allclose(b.params[key], value, atol=1e-6, err_msg=key)


@pytest.mark.clause("5.4.3.4-1", "5.4.2.1")
def test_the_aggregator_sees_only_ciphertext_and_never_the_model(medmnist_dir: Path, monkeypatch) -> None:
    import medfed.simulation as simulation

    up: list[bytes] = []
    down: list[bytes] = []
    original = simulation.respond

    def recording(worker, frame):
        down.append(frame)
        reply = original(worker, frame)
        if isinstance(reply, bytes):
            up.append(reply)
        return reply

    monkeypatch.setattr(simulation, "respond", recording)
    study = load_study(HORIZONTAL).with_training(rounds=2)
    scenario = prepare_scenario(study, data_dir=medmnist_dir)
    outcome = simulate(study, scenario.datasets, device=CPU)
    updates = [serde.decode(f) for f in up]
    assert updates and all(isinstance(u, NodeUpdate) for u in updates)
    for update in updates:
        assert is_sealed(update.params)
        assert update.num_samples == 1  # the real count rides inside the ciphertext
        assert not {"n_val", "epsilon"} & set(update.metrics)
    tasks = [m for m in map(serde.decode, down) if isinstance(m, TrainTask)]
    assert not is_sealed(tasks[0].params)  # round 1: the public initial model
    assert all(is_sealed(t.params) for t in tasks if t.round > 1)
    assert all(t.config["encryption"] == "paillier" for t in tasks)
    # The plaintext final model (opened by the result party) appears nowhere on the wire.
    final = outcome.params["linear.weight"].tobytes()
    assert not any(final in frame for frame in up + down)


def test_an_encrypted_study_refuses_a_node_without_the_key(medmnist_dir: Path) -> None:
    from medfed.node.worker import NodeWorker

    study = load_study(HORIZONTAL)
    scenario = prepare_scenario(study, data_dir=medmnist_dir)
    name = study.hospitals[0]
    worker = NodeWorker(name, scenario.datasets[name], device=CPU)
    from medfed.dispatcher.setup import initial_params, training_config

    task = TrainTask(study.study_id, 1, initial_params(study), {**training_config(study), "encryption": "paillier"})
    with pytest.raises(ConfigError, match="holds no homomorphic key"):
        worker.handle(task)


def test_a_site_requiring_hidden_updates_refuses_a_plain_study(medmnist_dir: Path) -> None:
    from medfed.dispatcher.setup import initial_params, training_config
    from medfed.node.worker import NodeWorker

    study = replace(load_study(HORIZONTAL), privacy=PrivacyConfig())
    scenario = prepare_scenario(study, data_dir=medmnist_dir)
    name = study.hospitals[0]
    worker = NodeWorker(name, scenario.datasets[name], device=CPU, require_hidden_updates=True)
    task = TrainTask(study.study_id, 1, initial_params(study), training_config(study))
    with pytest.raises(ConfigError, match="requires updates hidden from the aggregator"):
        worker.handle(task)
    secure = {**training_config(study), "encryption": "paillier"}
    with pytest.raises(ConfigError, match="holds no homomorphic key"):  # passes the policy, needs a key
        worker.handle(TrainTask(study.study_id, 1, initial_params(study), secure))


def test_encryption_cannot_be_combined_with_aggregator_side_dp_or_secure_aggregation() -> None:
    with pytest.raises(ConfigError, match="choose one"):
        PrivacyConfig(encryption=Encryption.CKKS, secure_aggregation=True)
    with pytest.raises(ConfigError, match="dp_sgd"):
        PrivacyConfig(encryption=Encryption.CKKS, mechanism=Mechanism.DP_FEDAVG)
    with pytest.raises(ConfigError, match="key-length policy"):
        PrivacyConfig(encryption=Encryption.PAILLIER, paillier_bits=1024)


@pytest.mark.clause("A.1", "5.5.1.1a")
def test_horizontal_logistic_regression_under_secure_aggregation_matches_plain(medmnist_dir: Path) -> None:
    base = load_study(HORIZONTAL).with_training(rounds=3)
    plain = replace(base, privacy=PrivacyConfig())
    secure = replace(base, privacy=PrivacyConfig(secure_aggregation=True))
    scenario = prepare_scenario(plain, data_dir=medmnist_dir)
    a = simulate(plain, scenario.datasets, device=CPU)
    b = simulate(secure, scenario.datasets, device=CPU)
    auc_a = evaluate_params(plain, scenario, a.params, device=CPU)[0].auc
    auc_b = evaluate_params(secure, scenario, b.params, device=CPU)[0].auc
    assert abs(auc_a - auc_b) <= 0.005 and auc_b > 0.95
