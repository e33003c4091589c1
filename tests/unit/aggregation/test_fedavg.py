from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medfed.aggregation import ClientReply, FedAvg, FedProx, validate_update, weighted_average
from medfed.errors import ConfigError, UpdateRejectedError


def _reply(node: str, value: float, n: int) -> ClientReply:
    return ClientReply(node, {"w": np.full((2, 2), value, np.float32), "c": np.array(n)}, n)


@pytest.mark.clause("5.4.2.3h")
def test_fedavg_weights_by_sample_count() -> None:
    result = FedAvg().aggregate(1, {}, [_reply("a", 1.0, 10), _reply("b", 4.0, 30)])
    np.testing.assert_allclose(result["w"], np.full((2, 2), (10 * 1 + 30 * 4) / 40))
    assert result["w"].dtype == np.float32
    assert int(result["c"]) == 30  # integer buffers take the maximum


def test_fedavg_is_independent_of_reply_order() -> None:
    rng = np.random.default_rng(0)
    replies = [
        ClientReply(f"n{i}", {"w": rng.normal(size=100).astype(np.float32)}, int(rng.integers(1, 50)))
        for i in range(5)
    ]
    a = FedAvg().aggregate(1, {}, replies)
    b = FedAvg().aggregate(1, {}, list(reversed(replies)))
    assert np.array_equal(a["w"], b["w"])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=8))
def test_average_of_identical_models_is_that_model(counts: list[int]) -> None:
    model = {"w": np.linspace(-1, 1, 7, dtype=np.float32)}
    result = weighted_average([model] * len(counts), counts)
    np.testing.assert_allclose(result["w"], model["w"], rtol=1e-6)


def test_fedprox_sends_mu_and_refuses_zero() -> None:
    configs = FedProx(proximal_mu=0.01).configure_round(1, ["a", "b"], {"lr": 0.1})
    assert configs == {"a": {"lr": 0.1, "proximal_mu": 0.01}, "b": {"lr": 0.1, "proximal_mu": 0.01}}
    with pytest.raises(ConfigError):
        FedProx(proximal_mu=0)


def test_metrics_are_sample_weighted_and_skip_nan() -> None:
    replies = [
        ClientReply("a", {}, 10, {"val_auc": 0.5, "train_loss": 1.0}),
        ClientReply("b", {}, 30, {"val_auc": float("nan"), "train_loss": 2.0}),
    ]
    metrics = FedAvg().aggregate_metrics(replies)
    assert metrics == {"train_loss": pytest.approx(1.75), "val_auc": pytest.approx(0.5)}


@pytest.mark.parametrize(
    ("update", "fragment"),
    [
        ({"w": np.zeros((3, 2), np.float32)}, "shape"),
        ({"w": np.full((2, 2), np.nan, np.float32)}, "NaN"),
        ({"w": np.zeros((2, 2), np.float64)}, "dtype"),
        ({"v": np.zeros((2, 2), np.float32)}, "missing"),
    ],
)
def test_bad_updates_are_rejected_with_the_reason(update: dict, fragment: str) -> None:
    with pytest.raises(UpdateRejectedError, match=fragment):
        validate_update({"w": np.zeros((2, 2), np.float32)}, update, node="h1")
