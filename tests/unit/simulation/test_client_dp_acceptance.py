"""Acceptance: client-level DP at ε ≤ 8 across 3 hospitals keeps |ΔAUC| ≤ 0.05 (PneumoniaMNIST, α=0.5).

The shipped example study runs end to end (goals, accounting, federated training,
centralized baseline, evaluation on the official test split). The Gaussian noise is
drawn from a seeded twin of the CSPRNG source (same transforms, :class:`SeededRandom`)
so the assertion is reproducible; ``bench/client_dp.py`` measures the spread over many
runs with the operating system's randomness.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from medfed.aggregation import registry
from medfed.core.config import Mechanism, dump_study, load_study
from medfed.orchestration.runs import RunOptions, run_study
from medfed.privacy.dp import SeededRandom

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pneumonia-client-dp.toml"


@pytest.mark.clause("5.4.3.3-4", "5.4.1")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_client_level_dp_keeps_auc_within_0_05_of_centralized(
    seed: int, tmp_path: Path, medmnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "SecureRandom", lambda: SeededRandom(1000 + seed))
    study = load_study(EXAMPLE)
    assert study.privacy.mechanism is Mechanism.DP_FEDAVG and len(study.hospitals) == 3
    assert study.data.dataset.startswith("pneumoniamnist") and study.data.alpha == 0.5
    path = tmp_path / "study.toml"
    path.write_text(dump_study(replace(study, training=replace(study.training, seed=seed))))
    results = run_study(
        RunOptions(study_path=path, out_dir=tmp_path / "run", data_dir=medmnist_dir, device="cpu", mode="simulation")
    )
    epsilon = results["privacy"]["epsilon"]
    gap = abs(results["federated"]["auc"] - results["centralized"]["auc"])
    assert 7.5 < epsilon <= 8.0, epsilon
    assert results["privacy"]["delta"] == 1e-5
    assert gap <= 0.05, (results["federated"]["auc"], results["centralized"]["auc"])
    assert results["centralized"]["auc"] > 0.9  # a real classifier, not two equally bad ones
    assert results["goals"]["passed"] is True
    # What the ε covers, and what it would be if a hospital's update could be swapped for another.
    assert "replaced by zero" in results["privacy"]["adjacency"]
    assert results["privacy"]["epsilon_replace_one"] > 2 * epsilon
    # Nothing measured on a hospital's data is published un-noised beside ε.
    assert all(entry["metrics"] == {} for entry in results["rounds"])
