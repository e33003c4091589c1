"""The [goals] section of the study file (5.2a, 5.2c-e): parsed, validated, round-tripped."""

from __future__ import annotations

import tomllib

import pytest

from medfed.core.config import dump_study, parse_study
from medfed.core.goals import GoalError
from medfed.errors import ConfigError

from .conftest import study_text


def _raw(extra: str = "") -> dict:
    return tomllib.loads(study_text(extra))


@pytest.mark.clause("5.2a")
def test_question_lives_in_goals_and_aliases_the_study_question() -> None:
    study = parse_study(_raw())
    assert study.goals.question == study.question == "Can two hospitals detect pneumonia on chest X-rays together?"
    assert study.goals.direction.startswith("AI-assisted")
    old_style = _raw()
    old_style["study"]["question"] = old_style["goals"].pop("question")
    assert parse_study(old_style).goals.question == study.question
    clash = _raw()
    clash["study"]["question"] = "something else"
    with pytest.raises(ConfigError, match="question differ"):
        parse_study(clash)


@pytest.mark.clause("5.2b")
@pytest.mark.clause("5.2e")
def test_goals_survive_the_dump_and_parse_round_trip() -> None:
    raw = _raw("\n[privacy]\nmechanism = \"dp_sgd\"\nnoise_multiplier = 1.1\n")
    raw["goals"]["privacy"]["max_epsilon"] = 8
    raw["goals"]["criteria"].append("epsilon <= 8")
    study = parse_study(raw)
    again = parse_study(tomllib.loads(dump_study(study)))
    assert again == study
    assert again.goals.privacy.max_epsilon == 8.0
    assert dict(again.goals.sharing) == {"result": ("model", "metrics", "report"), "hospital-a": ("metrics",)}


@pytest.mark.clause("5.2b")
def test_a_bad_criterion_in_the_file_is_refused_on_load() -> None:
    raw = _raw()
    raw["goals"]["criteria"] = ["auc >= 0.9", "auc <= 0.8"]
    with pytest.raises(GoalError, match="contradict"):
        parse_study(raw)


@pytest.mark.clause("5.2c")
def test_an_epsilon_criterion_without_differential_privacy_can_never_be_met() -> None:
    raw = _raw()
    raw["goals"]["criteria"] = ["epsilon <= 8"]
    with pytest.raises(GoalError, match="no differential privacy"):
        parse_study(raw)


@pytest.mark.clause("5.2c")
@pytest.mark.parametrize(
    ("section", "value", "says"),
    [
        ("privacy", {"require": ["teleportation"]}, "unknown mechanisms"),
        ("privacy", {"max_epsilon": -1}, "max_epsilon must be"),
        ("privacy", {"max_epsilon": "eight"}, "must be a number"),
        ("privacy", {"typo": 1}, "unknown keys: typo"),
        ("data", {"min_per_class": -3}, "min_per_class"),
    ],
)
def test_bad_privacy_or_data_goals_are_refused(section: str, value: dict, says: str) -> None:
    raw = _raw()
    raw["goals"][section] = value
    with pytest.raises(GoalError, match=says):
        parse_study(raw)


@pytest.mark.clause("5.2e")
def test_the_sharing_agreement_names_study_parties_and_known_results() -> None:
    raw = _raw()
    raw["goals"]["sharing"] = {"stranger": ["metrics"]}
    with pytest.raises(GoalError, match="not in the study: stranger"):
        parse_study(raw)
    raw["goals"]["sharing"] = {"result": ["patients"]}
    with pytest.raises(GoalError, match="unknown results"):
        parse_study(raw)
    study = parse_study(_raw())
    assert study.goals.releases("hospital-a") == ("metrics",)
    assert study.goals.releases("hospital-b") == ()  # not named: nothing
