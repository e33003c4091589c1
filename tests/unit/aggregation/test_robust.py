"""Byzantine-robust aggregation rules: what an outlier can and cannot do (5.5.1.1e)."""

from __future__ import annotations

import numpy as np
import pytest

from medfed.aggregation import ClientReply
from medfed.aggregation.registry import build_strategy
from medfed.aggregation.robust import Krum, Median, NormBounded, TrimmedMean, krum_scores
from medfed.errors import ConfigError, StudyFailedError

GLOBAL = {"w": np.zeros(4, np.float32), "steps": np.array(3, np.int64)}


def _replies(values: list[float], outlier: float | None = None) -> list[ClientReply]:
    rows = [np.full(4, v, np.float32) for v in values]
    if outlier is not None:
        rows.append(np.full(4, outlier, np.float32))
    return [ClientReply(f"n{i}", {"w": r, "steps": np.array(3, np.int64)}, 10) for i, r in enumerate(rows)]


@pytest.mark.clause("5.5.1.1e")
@pytest.mark.parametrize("strategy", [Median(), TrimmedMean(0.2), Krum(f=1), NormBounded()])
def test_one_huge_update_cannot_drag_the_model(strategy) -> None:
    honest = [0.9, 1.0, 1.1, 1.0]
    out = strategy.aggregate(1, GLOBAL, _replies(honest, outlier=1e6))
    assert np.all(np.abs(out["w"] - 1.0) < 0.2), out["w"]
    assert out["steps"] == 3 and out["w"].dtype == np.float32


def test_median_and_trimmed_mean_equal_the_mean_without_outliers() -> None:
    out_m = Median().aggregate(1, GLOBAL, _replies([1.0, 2.0, 3.0]))
    out_t = TrimmedMean(0.0).aggregate(1, GLOBAL, _replies([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(out_m["w"], 2.0)
    np.testing.assert_allclose(out_t["w"], 2.0)


def test_krum_names_the_updates_it_chose_and_refuses_too_few() -> None:
    krum = Krum(f=1, m=2)
    krum.aggregate(1, GLOBAL, _replies([1.0, 1.01, 0.99, 1.0], outlier=50.0))
    assert "n4" not in krum.last_selected and len(krum.last_selected) == 2
    with pytest.raises(StudyFailedError, match="at least 5"):
        krum_scores(np.zeros((4, 3)), f=1)


def test_registry_builds_each_rule_and_refuses_bad_parameters() -> None:
    for name in ("median", "trimmed_mean", "krum", "norm_bounded"):
        assert build_strategy(name).name == name
    with pytest.raises(ConfigError):
        TrimmedMean(0.5)
    with pytest.raises(ConfigError, match="choose one of"):
        build_strategy("mean_of_vibes")
