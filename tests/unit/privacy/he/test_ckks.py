"""CKKS vectors: precision of encrypted sums, chunking, key separation, refusals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medfed.errors import HEError
from medfed.privacy.he import ckks, generate_scheme, load_scheme
from medfed.privacy.he.depth import pack_chunk, unpack_chunk

TARGET = 1e-4  # absolute error FedAvg tolerates on the summed parameters


@pytest.fixture(scope="module")
def key() -> ckks.CKKSVectors:
    return ckks.generate()


@pytest.fixture(scope="module")
def aggregator(key: ckks.CKKSVectors) -> ckks.CKKSVectors:
    return ckks.load(key.public_bytes())


@pytest.fixture(scope="module")
def other_key() -> ckks.CKKSVectors:
    return ckks.generate()


@pytest.mark.clause("5.4.3.4-4")
def test_default_parameters_are_128_bit_secure_with_one_data_prime(key: ckks.CKKSVectors) -> None:
    params = key.params
    assert params["security_bits"] == 128
    assert params["poly_modulus_degree"] == 4096
    assert sum(params["coeff_mod_bit_sizes"]) <= 109  # SEAL's 128-bit limit for N = 4096
    assert params["coeff_mod_bit_sizes"][0] == 60
    assert key.slot_count == 2048


@pytest.mark.clause("5.4.3.4-4", "5.4.3.4-1")
def test_sum_of_50_vectors_decrypts_within_the_documented_bound(
    key: ckks.CKKSVectors, aggregator: ckks.CKKSVectors
) -> None:
    rng = np.random.default_rng(50)
    vectors = [rng.uniform(-1e4, 1e4, 300) for _ in range(50)]
    total = aggregator.add([key.encrypt(v) for v in vectors])
    error = np.max(np.abs(key.decrypt(total, 300) - np.sum(vectors, axis=0)))
    assert error <= key.error_bound(50) <= TARGET


@pytest.mark.clause("5.4.3.4-4")
def test_values_at_the_bound_summed_max_addends_times_do_not_wrap(
    key: ckks.CKKSVectors, aggregator: ckks.CKKSVectors
) -> None:
    # One ciphertext added to itself: its noise adds up coherently, the worst case.
    peak = np.full(64, key.max_abs)
    peak[::2] *= -1
    chunks = key.encrypt(peak)
    total = aggregator.add([chunks] * key.max_addends)
    error = np.max(np.abs(key.decrypt(total, 64) - key.max_addends * peak))
    assert error <= key.error_bound()


@pytest.mark.clause("5.4.3.4-4")
@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(1, 6),
    size=st.integers(1, 40),
    scale=st.sampled_from([1e-3, 1.0, 1e3, 1e5]),
)
def test_any_small_sum_stays_within_the_bound(
    key: ckks.CKKSVectors, seed: int, count: int, size: int, scale: float
) -> None:
    rng = np.random.default_rng(seed)
    vectors = [rng.uniform(-scale, scale, size) for _ in range(count)]
    total = key.add([key.encrypt(v) for v in vectors])
    assert np.max(np.abs(key.decrypt(total, size) - np.sum(vectors, axis=0))) <= key.error_bound(
        count
    )


@pytest.mark.clause("5.4.3.4-4")
def test_vector_longer_than_three_ciphertexts_round_trips(key: ckks.CKKSVectors) -> None:
    size = 3 * key.slot_count + 7
    vector = np.random.default_rng(3).uniform(-1e3, 1e3, size)
    chunks = key.encrypt(vector)
    assert len(chunks) == 4
    assert np.max(np.abs(key.decrypt(chunks, size) - vector)) <= key.error_bound(1)


@pytest.mark.clause("5.4.3.4-1")
def test_aggregator_instance_adds_but_cannot_decrypt_encrypt_or_export(
    key: ckks.CKKSVectors, aggregator: ckks.CKKSVectors
) -> None:
    assert key.can_decrypt and not aggregator.can_decrypt
    total = aggregator.add([key.encrypt(np.ones(5)), key.encrypt(np.ones(5))])
    with pytest.raises(HEError, match="no secret key"):
        aggregator.decrypt(total, 5)
    with pytest.raises(HEError, match="no secret key"):
        aggregator.secret_bytes()
    with pytest.raises(HEError, match="no secret key"):
        aggregator.encrypt(np.ones(5))
    assert np.allclose(key.decrypt(total, 5), 2.0)


@pytest.mark.clause("5.4.3.4-1")
def test_public_blob_holds_no_secret_key(key: ckks.CKKSVectors) -> None:
    public, secret = key.public_bytes(), key.secret_bytes()
    assert public.startswith(b"medfed-he/ckks/v1\n") and secret.startswith(b"medfed-he/ckks/v1\n")
    # A secret key for N = 4096 alone takes tens of kilobytes; the public blob is parameters only.
    assert len(public) < 1024 < 30_000 < len(secret)
    loaded = load_scheme(public)
    assert loaded.name == "ckks" and not loaded.can_decrypt
    assert load_scheme(loaded.public_bytes()).can_decrypt is False


@pytest.mark.clause("5.4.3.4-4")
def test_secret_blob_restores_a_key_that_decrypts_earlier_ciphertexts(
    key: ckks.CKKSVectors,
) -> None:
    vector = np.linspace(-5, 5, 11)
    chunks = key.encrypt(vector)
    restored = load_scheme(key.secret_bytes())
    assert restored.can_decrypt
    assert np.max(np.abs(restored.decrypt(chunks, 11) - vector)) <= key.error_bound(1)


@pytest.mark.clause("5.4.3.4-1")
def test_ciphertext_from_another_key_is_refused(
    key: ckks.CKKSVectors, aggregator: ckks.CKKSVectors, other_key: ckks.CKKSVectors
) -> None:
    mine, theirs = key.encrypt(np.ones(4)), other_key.encrypt(np.ones(4))
    with pytest.raises(HEError, match="another key"):
        aggregator.add([mine, theirs])
    with pytest.raises(HEError, match="another key"):
        key.decrypt(theirs, 4)


@pytest.mark.clause("5.4.3.4-1")
def test_more_than_max_addends_vectors_are_refused_even_in_stages() -> None:
    small = ckks.generate(max_addends=3)
    chunks = small.encrypt(np.ones(3))
    with pytest.raises(HEError, match="at most 3"):
        small.add([chunks] * 4)
    partial = small.add([chunks] * 3)
    with pytest.raises(HEError, match="at most 3"):
        small.add([partial, chunks])


@pytest.mark.clause("5.4.3.4-1")
def test_mismatched_truncated_or_reordered_chunk_lists_are_refused(
    key: ckks.CKKSVectors, aggregator: ckks.CKKSVectors
) -> None:
    one = key.encrypt(np.ones(10))
    two = key.encrypt(np.ones(key.slot_count + 1))
    with pytest.raises(HEError):
        aggregator.add([one, two])
    with pytest.raises(HEError, match="inconsistent"):
        aggregator.add([two[:1], two[:1]])
    with pytest.raises(HEError, match="inconsistent"):
        key.decrypt(list(reversed(two)), key.slot_count + 1)
    with pytest.raises(HEError):
        key.decrypt(one, 11)


@pytest.mark.clause("5.4.3.4-4")
def test_damaged_ciphertext_fails_with_one_opaque_error(key: ckks.CKKSVectors) -> None:
    chunk = key.encrypt(np.ones(4))[0]
    with pytest.raises(HEError, match="malformed ciphertext or key material"):
        key.decrypt([chunk[: len(chunk) // 2]], 4)
    meta, index, count, body = unpack_chunk(chunk)
    lying = pack_chunk(dataclasses.replace(meta, size=5), index, count, body)
    with pytest.raises(HEError):
        key.decrypt([lying], 5)


@pytest.mark.clause("5.4.3.4-4")
@pytest.mark.parametrize(
    "vector", [np.array([1.0, 2.0**18]), np.array([np.nan]), np.array([]), np.ones((2, 2))]
)
def test_values_out_of_bounds_or_shape_are_refused_before_encoding(
    key: ckks.CKKSVectors, vector: np.ndarray
) -> None:
    with pytest.raises(HEError):
        key.encrypt(vector)


@pytest.mark.clause("5.4.3.4-4")
def test_options_that_leave_no_precision_are_refused() -> None:
    with pytest.raises(HEError, match="lower max_abs"):
        ckks.generate(max_addends=64, max_abs=1e12)
    with pytest.raises(HEError, match="poly_modulus_degree"):
        ckks.generate(depth=1, poly_modulus_degree=4096)
    with pytest.raises(HEError):
        ckks.generate(max_addends=0)
    with pytest.raises(HEError, match="not medfed"):
        ckks.load(b"medfed-he/ckks/v1\nnot json\n")


@pytest.mark.clause("5.4.3.4-1", "5.4.3.4-4")
def test_encrypted_fedavg_of_three_hospitals_equals_the_plaintext_weighted_mean() -> None:
    scheme = generate_scheme("ckks", max_addends=8)
    aggregator = load_scheme(scheme.public_bytes())
    rng = np.random.default_rng(7)
    samples = [1200, 340, 5000]
    params = [rng.normal(0, 0.5, 5000) for _ in samples]
    # Each hospital sends its sample-weighted parameters with its weight appended.
    uploads = [scheme.encrypt(np.append(n * p, n)) for n, p in zip(samples, params, strict=True)]
    total = scheme.decrypt(aggregator.add(uploads), 5001)
    mean = total[:-1] / total[-1]
    expected = sum(n * p for n, p in zip(samples, params, strict=True)) / sum(samples)
    assert abs(total[-1] - sum(samples)) <= scheme.error_bound(3)
    # Error of the sum, divided by the summed weight (plus the weight's own error).
    tolerance = scheme.error_bound(3) * (1 + np.max(np.abs(expected))) / (sum(samples) - 1)
    assert np.max(np.abs(mean - expected)) <= tolerance


@pytest.mark.clause("5.4.3.4-4")
def test_key_blob_whose_parameters_disagree_with_its_context_is_refused(
    key: ckks.CKKSVectors,
) -> None:
    blob = key.public_bytes()
    with pytest.raises(HEError):
        ckks.load(blob.replace(b'"scale_bits":35', b'"scale_bits":36'))
    with pytest.raises(HEError):
        ckks.load(blob.replace(b"[60,49]", b"[60,48]"))
    with pytest.raises(HEError):
        ckks.load(blob.replace(b'"depth":0', b'"depth":1'))
    with pytest.raises(HEError, match="malformed"):
        ckks.load(blob[:-20])  # the TenSEAL context cut short
