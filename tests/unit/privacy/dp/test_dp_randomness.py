"""The randomness under DP noise: secure by default, seeded only when a test asks."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import stats

from medfed.privacy.dp import RandomSource, SecureRandom, SeededRandom, laplace_mechanism
from medfed.privacy.dp import randomness as randomness_module

# A true CSPRNG fails a correct test with probability equal to this bound.
SECURE_P = 1e-6


def test_seeded_source_is_reproducible_and_seed_dependent() -> None:
    assert np.array_equal(SeededRandom(7).normal(100), SeededRandom(7).normal(100))
    assert not np.array_equal(SeededRandom(7).normal(100), SeededRandom(8).normal(100))


def test_both_sources_satisfy_the_protocol() -> None:
    assert isinstance(SecureRandom(), RandomSource)
    assert isinstance(SeededRandom(0), RandomSource)


@pytest.mark.clause("5.4.3.3-1")
def test_secure_uniforms_lie_strictly_inside_the_unit_interval_and_are_uniform() -> None:
    u = SecureRandom().uniform(100_000)
    assert u.dtype == np.float64 and 0.0 < u.min() and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > SECURE_P


@pytest.mark.clause("5.4.3.3-1")
def test_secure_gaussian_and_laplace_follow_their_distributions() -> None:
    rng = SecureRandom()
    assert stats.kstest(rng.normal(50_000, 2.5), stats.norm(scale=2.5).cdf).pvalue > SECURE_P
    assert stats.kstest(rng.laplace(50_000, 0.7), stats.laplace(scale=0.7).cdf).pvalue > SECURE_P


def test_shapes_follow_numpy_conventions() -> None:
    rng = SeededRandom(1)
    assert rng.normal((3, 4)).shape == (3, 4)
    assert rng.laplace(5).shape == (5,)
    assert rng.uniform().shape == ()
    assert rng.normal(7).shape == (7,)  # odd sizes use half a Box–Muller pair


def test_secure_gaussians_are_fast_enough_for_a_model_update() -> None:
    rng = SecureRandom()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        rng.normal(220_000)
        best = min(best, time.perf_counter() - start)
    assert best < 0.05


def test_two_secure_sources_share_no_stream() -> None:
    assert not np.array_equal(SecureRandom().uniform(8), SecureRandom().uniform(8))


@pytest.mark.clause("5.4.3.3-1")
def test_mechanisms_draw_from_the_os_csprng_when_no_source_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    real = randomness_module.os.urandom

    def counting(n: int) -> bytes:
        calls.append(n)
        return real(n)

    monkeypatch.setattr(randomness_module.os, "urandom", counting)
    laplace_mechanism(np.zeros(10), sensitivity=1.0, epsilon=1.0)
    assert calls == [80]  # 10 draws of 8 bytes
