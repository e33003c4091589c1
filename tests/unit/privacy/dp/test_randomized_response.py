"""k-ary randomized response: local DP for categorical values and labels at a node."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from medfed.errors import ConfigError, DataError
from medfed.privacy.dp import (
    SeededRandom,
    keep_probability,
    randomized_response,
    rr_unbiased_frequencies,
)

pytestmark = pytest.mark.clause("5.4.3.3-5")


def test_keep_probability_is_e_eps_over_e_eps_plus_k_minus_one() -> None:
    assert keep_probability(n_categories=4, epsilon=1.0) == pytest.approx(
        math.e / (math.e + 3), rel=1e-15
    )
    assert keep_probability(n_categories=2, epsilon=1000.0) == 1.0  # no overflow


def test_report_probabilities_differ_by_at_most_e_to_the_epsilon() -> None:
    for k in (2, 5, 10):
        p = keep_probability(n_categories=k, epsilon=0.7)
        assert p / ((1 - p) / (k - 1)) == pytest.approx(math.exp(0.7), rel=1e-12)


def test_truth_is_reported_with_the_keep_probability_and_lies_are_uniform() -> None:
    k, epsilon, n = 4, 1.0, 60_000
    truth = np.arange(n) % k
    reports = randomized_response(truth, n_categories=k, epsilon=epsilon, rng=SeededRandom(5))
    assert reports.shape == truth.shape and reports.dtype == np.int64
    assert reports.min() >= 0 and reports.max() < k
    p = keep_probability(n_categories=k, epsilon=epsilon)
    kept = float(np.mean(reports == truth))
    assert abs(kept - p) < 4 * math.sqrt(p * (1 - p) / n)
    # Given the truth was 0, the other categories are equally likely.
    lies = reports[(truth == 0) & (reports != 0)]
    assert stats.chisquare(np.bincount(lies, minlength=k)[1:]).pvalue > 0.01


def test_unbiased_estimator_recovers_the_true_frequencies() -> None:
    k, n = 5, 100_000
    true = np.array([0.5, 0.2, 0.15, 0.1, 0.05])
    values = np.repeat(np.arange(k), (true * n).astype(int))
    reports = randomized_response(values, n_categories=k, epsilon=1.0, rng=SeededRandom(6))
    estimate = rr_unbiased_frequencies(reports, n_categories=k, epsilon=1.0)
    assert estimate.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(estimate, true, atol=0.02)
    # The raw report frequencies are visibly biased toward uniform; the estimator is not.
    raw = np.bincount(reports, minlength=k) / n
    assert abs(raw[0] - true[0]) > 0.1


def test_estimator_is_unbiased_on_average_even_for_small_samples() -> None:
    values = np.repeat([0, 1, 2], [12, 6, 2])  # 20 reports: single estimates are noisy
    rng = SeededRandom(7)
    estimates = [
        rr_unbiased_frequencies(
            randomized_response(values, n_categories=3, epsilon=0.5, rng=rng),
            n_categories=3,
            epsilon=0.5,
        )
        for _ in range(4_000)
    ]
    np.testing.assert_allclose(np.mean(estimates, axis=0), [0.6, 0.3, 0.1], atol=0.02)


def test_labels_as_float_codes_are_accepted() -> None:
    reports = randomized_response(
        np.array([0.0, 1.0, 1.0]), n_categories=2, epsilon=50.0, rng=SeededRandom(0)
    )
    assert reports.tolist() == [0, 1, 1]


@pytest.mark.parametrize(
    ("call", "error", "reason"),
    [
        (
            lambda: randomized_response([0, 1], n_categories=1, epsilon=1.0),
            ConfigError,
            "n_categories",
        ),
        (lambda: randomized_response([0, 1], n_categories=2, epsilon=0.0), ConfigError, "epsilon"),
        (lambda: randomized_response([0, 3], n_categories=3, epsilon=1.0), DataError, r"0\.\.2"),
        (lambda: randomized_response([-1], n_categories=3, epsilon=1.0), DataError, r"0\.\.2"),
        (lambda: randomized_response([0.5], n_categories=3, epsilon=1.0), DataError, "integer"),
        (lambda: rr_unbiased_frequencies([], n_categories=3, epsilon=1.0), DataError, "no reports"),
        (
            lambda: rr_unbiased_frequencies([0], n_categories=3, epsilon=-1.0),
            ConfigError,
            "epsilon",
        ),
    ],
)
def test_invalid_input_is_refused_with_the_reason(
    call: Callable[[], object], error: type[Exception], reason: str
) -> None:
    with pytest.raises(error, match=reason):
        call()
