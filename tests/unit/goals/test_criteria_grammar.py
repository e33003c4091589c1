"""Success criteria (5.2b): a small grammar, never eval; clear errors for every bad input."""

from __future__ import annotations

import math

import pytest

from medfed.core.goals import METRICS, GoalError, parse_criteria, parse_criterion
from medfed.errors import ConfigError

pytestmark = pytest.mark.clause("5.2b")


@pytest.mark.parametrize(
    ("text", "metric", "op", "bound", "absolute"),
    [
        ("auc >= 0.90", "auc", ">=", 0.90, False),
        ("|delta_auc| <= 0.02", "delta_auc", "<=", 0.02, True),
        ("epsilon <= 8", "epsilon", "<=", 8.0, False),
        ("ks>=6e-1", "ks", ">=", 0.6, False),
        ("0.9 < auc", "auc", ">", 0.9, False),  # number first: the operator flips
        ("-0.02 <= delta_ks", "delta_ks", ">=", -0.02, False),
        ("misdiagnosis_rate == 0.1", "misdiagnosis_rate", "==", 0.1, False),
    ],
)
def test_valid_criteria_parse(text: str, metric: str, op: str, bound: float, absolute: bool) -> None:
    c = parse_criterion(text)
    assert (c.metric, c.op, c.absolute) == (metric, op, absolute)
    assert math.isclose(c.bound, bound)


def test_absolute_bars_and_comparisons_judge_values() -> None:
    c = parse_criterion("|delta_auc| <= 0.02")
    assert c.holds(-0.01) and c.holds(0.02) and not c.holds(-0.03)
    assert parse_criterion("auc > 0.9").holds(0.91) and not parse_criterion("auc > 0.9").holds(0.9)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("auc >=", "malformed"),
        (">= 0.9", "malformed"),
        ("auc 0.9", "exactly one comparison"),
        ("auc >= 0.5 <= 0.9", "exactly one comparison"),
        ("|auc >= 0.9", "malformed"),
        ("auc >= ks", "compare one metric with one number"),
        ("0.1 <= 0.2", "compare one metric with one number"),
        ("__import__('os').system('x') >= 1", "unexpected character"),
        ("auc + 1 >= 0.9", "unexpected character"),
        ("", "non-empty"),
    ],
)
def test_malformed_criteria_are_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(GoalError, match=says):
        parse_criterion(text)


def test_unknown_metric_names_the_vocabulary() -> None:
    with pytest.raises(GoalError, match="unknown metric 'sensitivity'") as info:
        parse_criterion("sensitivity >= 0.9")
    assert "auc" in str(info.value) and "epsilon" in str(info.value)
    assert isinstance(info.value, ConfigError)  # a user-fixable error: one line, exit 2


@pytest.mark.parametrize("text", ["auc >= 1.5", "epsilon < 0", "|delta_auc| > 1", "accuracy < 0", "ks == 2"])
def test_impossible_criteria_are_refused(text: str) -> None:
    with pytest.raises(GoalError, match="can never be met"):
        parse_criterion(text)


@pytest.mark.parametrize(
    "texts",
    [
        ["auc >= 0.9", "auc <= 0.8"],
        ["auc > 0.9", "auc < 0.9"],
        ["|delta_auc| <= 0.02", "delta_auc >= 0.05"],
        ["epsilon <= 1", "epsilon >= 2"],
    ],
)
def test_contradictory_criteria_are_refused(texts: list[str]) -> None:
    with pytest.raises(GoalError, match="contradict each other"):
        parse_criteria(texts)


def test_compatible_criteria_on_one_metric_are_kept() -> None:
    assert len(parse_criteria(["auc >= 0.8", "auc <= 0.99", "|delta_auc| <= 0.02", "delta_auc >= -0.01"])) == 4


def test_every_metric_has_a_sane_range() -> None:
    for name, spec in METRICS.items():
        assert spec.low < spec.high, name
        assert parse_criterion(f"{name} >= {spec.low}").metric == name
