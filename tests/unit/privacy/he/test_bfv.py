"""BFV vectors: exact fixed-point sums, overflow refusals, chunking, key separation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medfed.errors import HEError
from medfed.privacy.he import bfv, generate_scheme, load_scheme

TARGET = 1e-4


@pytest.fixture(scope="module")
def key() -> bfv.BFVVectors:
    return bfv.generate()


@pytest.fixture(scope="module")
def aggregator(key: bfv.BFVVectors) -> bfv.BFVVectors:
    return bfv.load(key.public_bytes())


@pytest.mark.clause("5.4.3.4-4")
def test_default_parameters_are_128_bit_secure_and_leave_no_overflow(key: bfv.BFVVectors) -> None:
    params = key.params
    assert params["poly_modulus_degree"] == 4096 and sum(params["coeff_mod_bit_sizes"]) <= 109
    t, frac = params["plain_modulus"], params["frac_bits"]
    assert t % (2 * 4096) == 1  # batching: one value per slot
    assert key.max_addends * (key.max_abs * 2**frac + 1) <= (t - 1) // 2
    assert key.slot_count == 4096 and frac == 21


@pytest.mark.clause("5.4.3.4-4", "5.4.3.4-1")
def test_sum_of_50_vectors_is_exact_up_to_fixed_point_rounding(
    key: bfv.BFVVectors, aggregator: bfv.BFVVectors
) -> None:
    rng = np.random.default_rng(50)
    vectors = [rng.uniform(-1e4, 1e4, 300) for _ in range(50)]
    total = aggregator.add([key.encrypt(v) for v in vectors])
    error = np.max(np.abs(key.decrypt(total, 300) - np.sum(vectors, axis=0)))
    assert error <= key.error_bound(50) <= TARGET


@pytest.mark.clause("5.4.3.4-4")
def test_integers_on_the_fixed_point_grid_sum_exactly(key: bfv.BFVVectors) -> None:
    vector = np.arange(-50, 50) / 2**key.frac_bits + np.arange(100)
    total = key.add([key.encrypt(vector)] * 7)
    assert np.array_equal(key.decrypt(total, 100), 7 * vector)


@pytest.mark.clause("5.4.3.4-4", "5.4.3.4-3")
def test_max_addends_sum_at_the_bound_is_exact_with_noise_budget_left(
    key: bfv.BFVVectors,
) -> None:
    peak = np.full(32, key.max_abs)
    peak[::2] *= -1
    fresh = key.encrypt_vector(peak)
    total = fresh
    for _ in range(key.max_addends - 1):
        total = total.add(fresh)
    assert np.array_equal(key.decrypt_vector(total), key.max_addends * peak)
    assert fresh.noise_budget_bits is not None and total.noise_budget_bits is not None
    assert fresh.noise_budget_bits > total.noise_budget_bits > 0  # SEAL's own measurement


@pytest.mark.clause("5.4.3.4-4")
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 6), size=st.integers(1, 40))
def test_any_small_sum_stays_within_the_rounding_bound(
    key: bfv.BFVVectors, seed: int, count: int, size: int
) -> None:
    rng = np.random.default_rng(seed)
    vectors = [rng.uniform(-key.max_abs, key.max_abs, size) for _ in range(count)]
    total = key.add([key.encrypt(v) for v in vectors])
    assert np.max(np.abs(key.decrypt(total, size) - np.sum(vectors, axis=0))) <= key.error_bound(
        count
    )


@pytest.mark.clause("5.4.3.4-4")
def test_vector_longer_than_three_ciphertexts_round_trips(key: bfv.BFVVectors) -> None:
    size = 3 * key.slot_count + 7
    vector = np.random.default_rng(3).uniform(-1e3, 1e3, size)
    chunks = key.encrypt(vector)
    assert len(chunks) == 4
    assert np.max(np.abs(key.decrypt(chunks, size) - vector)) <= key.error_bound(1)


@pytest.mark.clause("5.4.3.4-4")
@pytest.mark.parametrize("value", [2.0**17 + 1, -1e6, np.inf])
def test_value_that_could_overflow_the_plain_modulus_is_refused_before_encoding(
    key: bfv.BFVVectors, value: float
) -> None:
    with pytest.raises(HEError):
        key.encrypt(np.array([0.0, value]))


@pytest.mark.clause("5.4.3.4-4")
def test_options_that_leave_too_few_fraction_bits_are_refused() -> None:
    with pytest.raises(HEError, match="fraction bits"):
        bfv.generate(max_addends=64, max_abs=1e10)
    with pytest.raises(HEError, match="poly_modulus_degree"):
        bfv.generate(depth=1, poly_modulus_degree=4096)


@pytest.mark.clause("5.4.3.4-1")
def test_aggregator_instance_adds_but_cannot_decrypt(
    key: bfv.BFVVectors, aggregator: bfv.BFVVectors
) -> None:
    public = key.public_bytes()
    assert public.startswith(b"medfed-he/bfv/v1\n") and len(public) < 1024
    assert len(key.secret_bytes()) > 30_000
    assert not aggregator.can_decrypt and not load_scheme(public).can_decrypt
    total = aggregator.add([key.encrypt(np.ones(5))] * 2)
    with pytest.raises(HEError, match="no secret key"):
        aggregator.decrypt(total, 5)
    with pytest.raises(HEError, match="no secret key"):
        aggregator.secret_bytes()
    assert aggregator.open(total).noise_budget_bits is None
    assert np.array_equal(key.decrypt(total, 5), np.full(5, 2.0))


@pytest.mark.clause("5.4.3.4-1")
def test_ciphertext_from_another_key_or_scheme_is_refused(
    key: bfv.BFVVectors, aggregator: bfv.BFVVectors
) -> None:
    other = bfv.generate()
    with pytest.raises(HEError, match="another key"):
        aggregator.add([key.encrypt(np.ones(3)), other.encrypt(np.ones(3))])
    ckks_chunks = generate_scheme("ckks", max_addends=4).encrypt(np.ones(3))
    with pytest.raises(HEError, match="another key"):
        key.decrypt(ckks_chunks, 3)


@pytest.mark.clause("5.4.3.4-1")
def test_more_than_max_addends_vectors_are_refused() -> None:
    small = bfv.generate(max_addends=2)
    chunks = small.encrypt(np.ones(3))
    with pytest.raises(HEError, match="at most 2"):
        small.add([chunks] * 3)
    with pytest.raises(HEError, match="at most 2"):
        small.add([small.add([chunks, chunks]), chunks])


@pytest.mark.clause("5.4.3.4-1")
def test_vectors_with_different_chunk_counts_are_refused(
    key: bfv.BFVVectors, aggregator: bfv.BFVVectors
) -> None:
    with pytest.raises(HEError):
        aggregator.add([key.encrypt(np.ones(3)), key.encrypt(np.ones(key.slot_count + 3))])


@pytest.mark.clause("5.4.3.4-1", "5.4.3.4-4")
def test_encrypted_fedavg_of_three_hospitals_equals_the_plaintext_weighted_mean() -> None:
    scheme = generate_scheme("bfv", max_addends=8, max_abs=2.0**17)
    aggregator = load_scheme(scheme.public_bytes())
    rng = np.random.default_rng(11)
    samples = [1200, 340, 5000]
    params = [rng.normal(0, 0.5, 5000) for _ in samples]
    uploads = [scheme.encrypt(np.append(n * p, n)) for n, p in zip(samples, params, strict=True)]
    total = scheme.decrypt(aggregator.add(uploads), 5001)
    assert total[-1] == sum(samples)  # integers on the grid survive exactly
    expected = sum(n * p for n, p in zip(samples, params, strict=True))
    assert np.max(np.abs(total[:-1] - expected)) <= scheme.error_bound(3)
    assert np.max(np.abs(total[:-1] / total[-1] - expected / sum(samples))) <= 1e-6
