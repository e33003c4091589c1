from __future__ import annotations

import numpy as np
import pytest

from medfed.aggregation import ClientReply, FedAvg
from medfed.aggregation.client_dp import ClientLevelDP, update_norm
from medfed.errors import UpdateRejectedError


def _wrapper(gaussian) -> ClientLevelDP:
    return ClientLevelDP(FedAvg(), noise_multiplier=2.0, clip_norm=1.0, delta=1e-5, gaussian=gaussian)


@pytest.mark.clause("5.4.3.3-4")
def test_round_configuration_carries_the_node_half() -> None:
    configs = _wrapper(lambda shape, s: np.zeros(shape)).configure_round(1, ["a"], {"lr": 0.1})
    assert configs["a"] == {
        "lr": 0.1, "mechanism": "dp_fedavg", "noise_multiplier": 2.0, "clip_norm": 1.0, "delta": 1e-5,
        "adaptive_clipping": False,
    }


@pytest.mark.clause("5.4.3.3-4")
def test_unclipped_update_is_refused_naming_the_missing_half() -> None:
    base = {"w": np.zeros(4, np.float32)}
    wrapper = _wrapper(lambda shape, s: np.zeros(shape))
    wrapper.check_update(base, ClientReply("a", {"w": np.full(4, 0.5, np.float32)}, 10))  # norm 1.0
    with pytest.raises(UpdateRejectedError, match="did not apply the client half"):
        wrapper.check_update(base, ClientReply("b", {"w": np.full(4, 2.0, np.float32)}, 10))


@pytest.mark.clause("5.4.3.3-4")
def test_aggregate_is_the_uniform_mean_plus_noise_scaled_by_sigma_c_over_n() -> None:
    seen: list[float] = []

    def gaussian(shape, sigma):
        seen.append(sigma)
        return np.full(shape, 0.25)

    base = {"w": np.zeros(2, np.float32), "n": np.array(3)}
    replies = [
        ClientReply("a", {"w": np.array([0.6, 0.0], np.float32), "n": np.array(5)}, 10),
        ClientReply("b", {"w": np.array([0.0, 0.8], np.float32), "n": np.array(4)}, 1000),
    ]
    result = _wrapper(gaussian).aggregate(1, base, replies)
    np.testing.assert_allclose(result["w"], [0.3 + 0.25, 0.4 + 0.25], rtol=1e-6)
    # Integer buffers (a BatchNorm batch count) would tell a hospital's size: the global value stays.
    assert seen == [pytest.approx(2.0 * 1.0 / 2)] and int(result["n"]) == 3
    assert update_norm(replies[0].params, base) == pytest.approx(0.6)


@pytest.mark.clause("5.4.3.3-4")
def test_no_hospital_measurement_is_published_unnoised() -> None:
    replies = [
        ClientReply("a", {}, 261, {"val_auc": 0.93, "n_val": 29.0, "train_loss": 0.4, "unclipped": 1.0}),
        ClientReply("b", {}, 2321, {"val_auc": 0.95, "n_val": 258.0, "train_loss": 0.3, "unclipped": 0.0}),
    ]
    assert _wrapper(lambda shape, s: np.zeros(shape)).aggregate_metrics(replies) == {}
    assert FedAvg().aggregate_metrics(replies)["n_val"] > 200  # what plain FedAvg would have shown


@pytest.mark.clause("5.4.3.3-4")
def test_adaptive_clipping_follows_the_target_quantile_of_update_norms() -> None:
    from medfed.aggregation.client_dp import AdaptiveClipping
    from medfed.privacy.dp import SeededRandom

    rng = SeededRandom(7)
    wrapper = ClientLevelDP(
        FedAvg(), noise_multiplier=1.0, clip_norm=10.0, delta=1e-5,
        gaussian=lambda shape, s: rng.normal(shape, scale=s),
        adaptive=AdaptiveClipping(target_quantile=0.5, learning_rate=0.2),
    )
    base = {"w": np.zeros(1, np.float32)}
    norms = np.linspace(0.5, 1.5, 20)  # median 1.0
    for _ in range(60):
        replies = [
            ClientReply(f"n{i}", {"w": np.array([min(v, wrapper.clip_norm)], np.float32)}, 1,
                        {"unclipped": float(v <= wrapper.clip_norm)})
            for i, v in enumerate(norms)
        ]
        configs = wrapper.configure_round(1, ["n0"], {})
        assert configs["n0"]["clip_norm"] == wrapper.clip_norm
        wrapper.aggregate(1, base, replies)
    assert wrapper.clip_history[0] == 10.0
    assert 0.6 < wrapper.clip_norm < 1.5  # converged near the median norm from far above
    # A tenth of the budget goes to the count: the update noise multiplier is 1/sqrt(0.9).
    assert wrapper._update_noise_multiplier() == pytest.approx(1 / np.sqrt(0.9))
