"""Whole simulated studies with one malicious hospital: the ledger names it (5.5.1.1e).

Five hospitals train the Appendix A logistic regression; one injects random values into a
protocol value. The dispatcher's integrity checks must name it in the ledger, keep the study
going, and leave the documented sum; a clean study must name nobody.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from medfed.core.config import (
    AdversaryConfig,
    Behaviour,
    Encryption,
    FaultTarget,
    Party,
    PrivacyConfig,
    StudyConfig,
    load_study,
)
from medfed.ledger import EntryKind, open_store
from medfed.orchestration.scenario import prepare_scenario
from medfed.roles import Role
from medfed.simulation import simulate

pytestmark = pytest.mark.slow

HORIZONTAL = Path(__file__).resolve().parents[3] / "src" / "medfed" / "orchestration" / "appendix_a_horizontal.toml"
CPU = torch.device("cpu")
HOSPITALS = tuple(f"h{i}" for i in range(5))
ADVERSARY = "h2"


@pytest.fixture(scope="module")
def five():
    base = load_study(HORIZONTAL)
    parties = tuple(p for p in base.parties if p.role is not Role.DATA) + tuple(Party(h, Role.DATA) for h in HOSPITALS)
    study = replace(base, parties=parties, privacy=PrivacyConfig()).with_training(
        rounds=1, min_nodes=3, local_epochs=1
    )
    return study, prepare_scenario(study, data_dir=None)


def _attacked(study: StudyConfig, target: FaultTarget, **privacy: object) -> StudyConfig:
    adversary = AdversaryConfig(nodes=(ADVERSARY,), behaviour=Behaviour.RANDOM_FACTORS, target=target)
    return replace(study, privacy=PrivacyConfig(**privacy), adversary=adversary)


def _anomalies(ledger: Path) -> list[dict]:
    return [dict(e.payload) for e in open_store(ledger) if e.kind is EntryKind.ANOMALY]


def _close(a: dict[str, np.ndarray], b: dict[str, np.ndarray], atol: float) -> None:
    for key, value in a.items():
        if value.dtype.kind == "f":
            np.testing.assert_allclose(b[key], value, rtol=0, atol=atol, err_msg=key)


@pytest.mark.clause("5.5.1.1e", "5.5.1.4b")
def test_random_shares_under_secure_aggregation_are_named_in_the_ledger(five, tmp_path) -> None:
    study, scenario = five
    clean = simulate(replace(study, privacy=PrivacyConfig(secure_aggregation=True)), scenario.datasets, device=CPU)
    ledger = tmp_path / "ledger.db"
    attacked = _attacked(study, FaultTarget.SHARES, secure_aggregation=True)
    outcome = simulate(attacked, scenario.datasets, device=CPU, ledger=ledger)
    assert [(i["node"], i["target"]) for i in outcome.summary["injections"]] == [(ADVERSARY, "shares")]
    (found,) = _anomalies(ledger)
    assert found["suspect"] == ADVERSARY and "Shamir share" in found["description"]
    assert list(outcome.summary["rounds"][0]["faults"]) == [ADVERSARY]
    # Documented: the liar's shares are left out, its (honest) masked input stays in the sum,
    # so the model is the clean study's model exactly (same training, same fixed-point sum).
    _close(clean.params, outcome.params, atol=1e-6)


@pytest.mark.clause("5.5.1.1e", "5.5.1.4b")
def test_a_corrupted_ckks_ciphertext_is_refused_and_named(five, tmp_path) -> None:
    study, scenario = five
    ledger = tmp_path / "ledger.db"
    attacked = _attacked(study, FaultTarget.CIPHERTEXT, encryption=Encryption.CKKS)
    outcome = simulate(attacked, scenario.datasets, device=CPU, ledger=ledger)
    (found,) = _anomalies(ledger)
    assert found["suspect"] == ADVERSARY and "fresh encryption" in found["description"]
    record = outcome.summary["rounds"][0]
    assert ADVERSARY not in record["accepted"] and ADVERSARY in record["dropped"]
    # The round went on with the honest four: their plain FedAvg (CKKS is approximate).
    honest = tuple(p for p in study.parties if p.name != ADVERSARY)
    plain = simulate(replace(study, parties=honest), scenario.datasets, device=CPU)
    _close(plain.params, outcome.params, atol=1e-3)


@pytest.mark.clause("5.5.1.1e")
def test_a_clean_secure_study_records_no_fault(five, tmp_path) -> None:
    study, scenario = five
    ledger = tmp_path / "ledger.db"
    outcome = simulate(replace(study, privacy=PrivacyConfig(secure_aggregation=True)), scenario.datasets,
                       device=CPU, ledger=ledger)
    assert _anomalies(ledger) == []  # false positives: 0
    assert all(r["faults"] == {} for r in outcome.summary["rounds"])
    kinds = [e.kind for e in open_store(ledger)]
    assert EntryKind.ROUND in kinds and EntryKind.RESULT in kinds
