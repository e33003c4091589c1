"""Laplace and Gaussian noise calibrated by sensitivity; the exponential mechanism."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from medfed.errors import ConfigError
from medfed.privacy.dp import (
    GaussianCalibration,
    SeededRandom,
    exponential_mechanism,
    gaussian_mechanism,
    gaussian_sigma_analytic,
    gaussian_sigma_classic,
    laplace_mechanism,
)

N = 20_000


@pytest.mark.clause("5.4.3.3-1")
def test_laplace_noise_has_scale_sensitivity_over_epsilon() -> None:
    released = laplace_mechanism(np.full(N, 3.0), sensitivity=2.0, epsilon=0.5, rng=SeededRandom(1))
    noise = released - 3.0
    assert stats.kstest(noise, stats.laplace(scale=4.0).cdf).pvalue > 0.01
    # The test has power: a scale 15% off is rejected outright.
    assert stats.kstest(noise, stats.laplace(scale=4.6).cdf).pvalue < 1e-6


@pytest.mark.clause("5.4.3.3-1")
def test_classic_gaussian_sigma_is_the_dwork_roth_formula() -> None:
    sigma = gaussian_sigma_classic(epsilon=0.5, delta=1e-5, sensitivity=2.0)
    assert sigma == pytest.approx(2.0 * math.sqrt(2 * math.log(1.25 / 1e-5)) / 0.5, rel=1e-15)


@pytest.mark.clause("5.4.3.3-1")
def test_gaussian_noise_has_the_classic_sigma() -> None:
    sigma = gaussian_sigma_classic(epsilon=0.8, delta=1e-6, sensitivity=1.5)
    released = gaussian_mechanism(
        np.zeros((100, 200)), sensitivity=1.5, epsilon=0.8, delta=1e-6, rng=SeededRandom(2)
    )
    assert released.shape == (100, 200)
    assert stats.kstest(released.ravel(), stats.norm(scale=sigma).cdf).pvalue > 0.01
    assert stats.kstest(released.ravel(), stats.norm(scale=1.1 * sigma).cdf).pvalue < 1e-6


@pytest.mark.clause("5.4.3.3-1")
def test_classic_calibration_refuses_epsilon_of_one_or_more_and_names_the_fix() -> None:
    with pytest.raises(ConfigError, match="ANALYTIC"):
        gaussian_mechanism(1.0, sensitivity=1.0, epsilon=2.0, delta=1e-5)


def _delta_by_integration(sigma: float, epsilon: float, sensitivity: float) -> float:
    """δ = ∫ max(0, p(x) − e^ε q(x)) dx for p = N(0, σ²), q = N(Δ, σ²): independent of the
    closed form the library solves."""
    p, q = stats.norm(0, sigma), stats.norm(sensitivity, sigma)
    # p > e^ε q exactly left of this point.
    cut = sensitivity / 2 - epsilon * sigma**2 / sensitivity
    value, _ = integrate.quad(
        lambda x: p.pdf(x) - math.exp(epsilon) * q.pdf(x), -np.inf, cut, epsabs=1e-16, epsrel=1e-10
    )
    return value


@pytest.mark.clause("5.4.3.3-1")
@pytest.mark.parametrize(
    ("epsilon", "delta", "sensitivity"), [(0.5, 1e-5, 1.0), (3.0, 1e-6, 2.0), (0.1, 1e-3, 0.5)]
)
def test_analytic_sigma_meets_delta_exactly(
    epsilon: float, delta: float, sensitivity: float
) -> None:
    sigma = gaussian_sigma_analytic(epsilon=epsilon, delta=delta, sensitivity=sensitivity)
    assert _delta_by_integration(sigma, epsilon, sensitivity) == pytest.approx(delta, rel=1e-6)
    assert _delta_by_integration(sigma, epsilon, sensitivity) <= delta * (1 + 1e-9)


@pytest.mark.clause("5.4.3.3-1")
def test_analytic_sigma_is_smaller_than_the_classic_one() -> None:
    for epsilon in (0.1, 0.5, 0.9):
        analytic = gaussian_sigma_analytic(epsilon=epsilon, delta=1e-5, sensitivity=1.0)
        assert analytic < gaussian_sigma_classic(epsilon=epsilon, delta=1e-5, sensitivity=1.0)


@pytest.mark.clause("5.4.3.3-1")
def test_gaussian_mechanism_with_analytic_calibration_uses_that_sigma() -> None:
    sigma = gaussian_sigma_analytic(epsilon=4.0, delta=1e-5, sensitivity=1.0)
    released = gaussian_mechanism(
        np.zeros(N),
        sensitivity=1.0,
        epsilon=4.0,
        delta=1e-5,
        rng=SeededRandom(3),
        calibration=GaussianCalibration.ANALYTIC,
    )
    assert stats.kstest(released, stats.norm(scale=sigma).cdf).pvalue > 0.01


def test_a_scalar_in_gives_a_float_out_and_zero_sensitivity_adds_nothing() -> None:
    out = laplace_mechanism(2.5, sensitivity=1.0, epsilon=1.0, rng=SeededRandom(0))
    assert isinstance(out, float)
    assert laplace_mechanism(2.5, sensitivity=0.0, epsilon=1.0) == 2.5


@pytest.mark.clause("5.4.3.3-1")
@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"epsilon": 0.0}, "epsilon must be"),
        ({"epsilon": -1.0}, "epsilon must be"),
        ({"epsilon": math.nan}, "epsilon must be"),
        ({"epsilon": math.inf}, "epsilon must be"),
        ({"delta": 0.0}, "delta must lie"),
        ({"delta": 1.0}, "delta must lie"),
        ({"delta": -0.5}, "delta must lie"),
        ({"sensitivity": -1.0}, "sensitivity must be"),
        ({"sensitivity": math.nan}, "sensitivity must be"),
    ],
)
def test_invalid_parameters_are_refused_with_the_reason(
    kwargs: dict[str, float], reason: str
) -> None:
    params = {"sensitivity": 1.0, "epsilon": 0.5, "delta": 1e-5, **kwargs}
    with pytest.raises(ConfigError, match=reason):
        gaussian_mechanism(0.0, **params)
    with pytest.raises(ConfigError, match=reason):
        gaussian_sigma_analytic(**params)
    if "delta" not in kwargs:
        params.pop("delta")
        with pytest.raises(ConfigError, match=reason):
            laplace_mechanism(0.0, **params)


@pytest.mark.clause("5.4.3.3-2")
def test_exponential_mechanism_picks_in_proportion_to_exp_epsilon_score_over_two_delta() -> None:
    candidates = ["a", "b", "c", "d", "e"]
    scores = np.array([0.0, 1.0, 2.0, 3.0, 1.5])
    epsilon, sensitivity = 1.2, 1.0
    rng = SeededRandom(4)
    picks = [
        exponential_mechanism(candidates, scores, sensitivity=sensitivity, epsilon=epsilon, rng=rng)
        for _ in range(N)
    ]
    counts = np.bincount(picks, minlength=len(candidates))
    weights = np.exp(epsilon * scores / (2 * sensitivity))
    expected = N * weights / weights.sum()
    assert stats.chisquare(counts, expected).pvalue > 0.01
    # Power: the mechanism without the factor 2 would be rejected.
    wrong = np.exp(epsilon * scores / sensitivity)
    assert stats.chisquare(counts, N * wrong / wrong.sum()).pvalue < 1e-6


@pytest.mark.clause("5.4.3.3-2")
def test_exponential_mechanism_survives_huge_scores() -> None:
    index = exponential_mechanism(
        [1, 2, 3], [1e6, 2e6, 3e6], sensitivity=1.0, epsilon=1.0, rng=SeededRandom(0)
    )
    assert index == 2


@pytest.mark.clause("5.4.3.3-2")
@pytest.mark.parametrize(
    ("candidates", "scores", "params", "reason"),
    [
        ([], [], {}, "at least one candidate"),
        (["a", "b"], [1.0], {}, "one score per candidate"),
        (["a", "b"], [1.0, math.nan], {}, "finite"),
        (["a"], [1.0], {"sensitivity": 0.0}, "sensitivity must be"),
        (["a"], [1.0], {"sensitivity": -1.0}, "sensitivity must be"),
        (["a"], [1.0], {"epsilon": 0.0}, "epsilon must be"),
    ],
)
def test_exponential_mechanism_refuses_bad_input(
    candidates: list[str], scores: list[float], params: dict[str, float], reason: str
) -> None:
    with pytest.raises(ConfigError, match=reason):
        exponential_mechanism(candidates, scores, **{"sensitivity": 1.0, "epsilon": 1.0, **params})
