"""Privacy goals and data requirements are enforced before any training (5.2c, 5.2d)."""

from __future__ import annotations

from pathlib import Path

import pytest

from medfed.core.config import load_study
from medfed.core.goals import (
    DataRequirements,
    GoalRefusedError,
    PrivacyGoals,
    check_data_requirements,
    check_privacy_goals,
)
from medfed.node.privacy import PrivacyGuard, RoundPrivacy
from medfed.orchestration import runs
from medfed.orchestration.runs import RunOptions, planned_epsilon, run_study
from medfed.orchestration.scenario import prepare_scenario

from .conftest import study_text

DP_SGD = '\n[privacy]\nmechanism = "dp_sgd"\nnoise_multiplier = 0.6\n'


def _refused_before_training(tmp_path: Path, medmnist_dir: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the study; training must never start. Returns the refusal message."""
    def no_training(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("training started although the goals forbid the study")

    monkeypatch.setattr(runs, "simulate", no_training)
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    options = RunOptions(study_path=path, out_dir=tmp_path / "run", data_dir=medmnist_dir, device="cpu",
                         mode="simulation", max_train=150)
    with pytest.raises(GoalRefusedError) as info:
        run_study(options)
    assert not (tmp_path / "run" / "results.json").exists()
    return str(info.value)


@pytest.mark.clause("5.2c")
def test_an_epsilon_cap_the_accountant_would_exceed_is_refused(
    tmp_path: Path, medmnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = study_text(DP_SGD).replace('require = ["consent"]', 'require = ["consent"]\nmax_epsilon = 1.0')
    message = _refused_before_training(tmp_path, medmnist_dir, text, monkeypatch)
    assert "hospital-a's planned epsilon would be" in message and "max_epsilon 1" in message


@pytest.mark.clause("5.2c")
def test_a_cap_without_differential_privacy_is_refused(
    tmp_path: Path, medmnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = study_text().replace('require = ["consent"]', 'require = ["consent"]\nmax_epsilon = 8')
    assert "infinite (no differential privacy)" in _refused_before_training(tmp_path, medmnist_dir, text, monkeypatch)


@pytest.mark.clause("5.2c")
def test_a_missing_required_mechanism_is_refused(
    tmp_path: Path, medmnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = study_text().replace('require = ["consent"]', 'require = ["consent", "secure_aggregation"]')
    message = _refused_before_training(tmp_path, medmnist_dir, text, monkeypatch)
    assert "require secure_aggregation" in message


@pytest.mark.clause("5.2c")
def test_the_plan_matches_what_each_node_will_account(tmp_path: Path, medmnist_dir: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text(study_text(DP_SGD), encoding="utf-8")
    study = load_study(path)
    scenario = runs.subsample(prepare_scenario(study, data_dir=medmnist_dir), 150, 0)
    plans = planned_epsilon(study, scenario.datasets)
    t = study.training
    plan = RoundPrivacy("dp_sgd", study.privacy.noise_multiplier, study.privacy.clip_norm, study.privacy.delta)
    for name, ds in scenario.datasets.items():
        guard = PrivacyGuard()  # the hospital's own accountant, round by round as in medfed.node.worker
        rate = min(1.0, t.batch_size / len(ds.train.labels))
        for _ in range(t.rounds):
            spent = guard.admit(plan, sample_rate=rate, steps=max(1, round(t.local_epochs / rate)))
        assert plans[name] == pytest.approx(spent, rel=1e-6)


@pytest.mark.clause("5.2c")
def test_data_not_marked_deidentified_is_refused_when_required() -> None:
    goals = PrivacyGoals(deidentified=True)
    with pytest.raises(GoalRefusedError, match="hospital-b's data is not marked de-identified"):
        check_privacy_goals(goals, mechanisms=set(), planned_epsilon={}, deidentified={"hospital-a": True, "hospital-b": False})
    check_privacy_goals(PrivacyGoals(deidentified=False), mechanisms=set(), planned_epsilon={},
                        deidentified={"hospital-b": False})


@pytest.mark.clause("5.2d")
def test_too_few_records_of_a_class_names_party_and_class_but_not_small_counts() -> None:
    counts = {"hospital-a": {"0": 40, "1": 3}, "hospital-b": {"0": 12, "1": 60}}
    with pytest.raises(GoalRefusedError) as info:
        check_data_requirements(DataRequirements(min_per_class=20, min_cell=10), counts=counts,
                                class_names=("normal", "pneumonia"), modality="chest x-ray")
    message = str(info.value)
    assert "hospital-a holds fewer than 10 records of class 1 (pneumonia)" in message
    assert "hospital-b holds 12 records of class 0 (normal)" in message
    assert " 3 " not in message and "3 records" not in message


@pytest.mark.clause("5.2d")
def test_a_modality_mismatch_is_refused() -> None:
    with pytest.raises(GoalRefusedError, match="modality 'retinal OCT', the dataset is 'chest x-ray'"):
        check_data_requirements(DataRequirements(modality="retinal OCT"), counts={}, class_names=(),
                                modality="chest x-ray")


@pytest.mark.clause("5.2d")
def test_data_requirements_are_checked_against_the_partition(
    tmp_path: Path, medmnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = study_text().replace("min_per_class = 5", "min_per_class = 100000")
    message = _refused_before_training(tmp_path, medmnist_dir, text, monkeypatch)
    assert "hospital-a holds" in message and "class 0 (normal)" in message and "the goals need 100000" in message
