"""Depth budgets: multiplications are counted and refused past the parameters' limit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from medfed.errors import HEError
from medfed.privacy.he import bfv, ckks, load_scheme
from medfed.privacy.he.depth import (
    DepthBudget,
    EncryptedVector,
    Operation,
    pack_chunk,
    unpack_chunk,
)

WEIGHTS = [0.2, 0.3, 0.5]
SAMPLES = [12, 30, 45]  # integer weights for BFV


@pytest.fixture(scope="module")
def ckks_depth1() -> ckks.CKKSVectors:
    return ckks.generate(depth=1, max_addends=8)


@pytest.fixture(scope="module")
def bfv_depth1() -> bfv.BFVVectors:
    return bfv.generate(depth=1, max_addends=8)


@pytest.fixture(scope="module")
def hospital_params() -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    return [rng.uniform(-1e3, 1e3, 700) for _ in WEIGHTS]


# --- the budget itself ----------------------------------------------------------------------


@pytest.mark.clause("5.4.3.4-3")
def test_each_multiplication_spends_one_level_and_additions_none() -> None:
    budget = DepthBudget(limit=2)
    assert budget.spend("add") == budget
    assert budget.spend("mul_plain").levels_left == 1
    assert budget.spend("mul_plain").spend("mul").levels_left == 0


@pytest.mark.clause("5.4.3.4-3")
def test_exceeding_the_limit_names_the_operation_the_levels_used_and_the_limit() -> None:
    spent = DepthBudget(limit=1).spend("mul_plain")
    with pytest.raises(HEError, match=r"mul needs 1 multiplicative level\(s\) but 1 of 1"):
        spent.spend("mul")


@pytest.mark.clause("5.4.3.4-3")
def test_a_planned_sequence_past_the_limit_is_refused_before_any_step_runs() -> None:
    steps = [Operation.MUL_PLAIN, Operation.ADD, Operation.MUL]
    assert DepthBudget(limit=2).plan(steps).levels_left == 0
    with pytest.raises(HEError, match=r"mul_plain needs .* 2 of 2"):
        DepthBudget(limit=2).plan(["mul_plain", "add", "mul", "mul_plain"])
    with pytest.raises(HEError, match="unknown"):
        DepthBudget(limit=2).plan(["rotate"])


@pytest.mark.clause("5.4.3.4-3")
def test_joining_operands_keeps_the_more_spent_budget() -> None:
    assert DepthBudget(3, 1).join(DepthBudget(3, 2)) == DepthBudget(3, 2)
    with pytest.raises(HEError):
        DepthBudget(3).join(DepthBudget(2))
    with pytest.raises(HEError):
        DepthBudget(1, used=2)


# --- CKKS: one level per prime of the modulus chain -----------------------------------------


def weighted_sum(
    scheme: ckks.CKKSVectors | bfv.BFVVectors, params: list[np.ndarray], weights: list[float]
) -> EncryptedVector:
    """The aggregator's side: public key only, each upload times its plaintext weight."""
    aggregator = load_scheme(scheme.public_bytes())
    assert isinstance(aggregator, type(scheme)) and not aggregator.can_decrypt
    uploads = [scheme.encrypt_vector(p, bound=1e3).to_chunks() for p in params]
    terms = [aggregator.open(c).mul_plain(w) for c, w in zip(uploads, weights, strict=True)]
    total = terms[0]
    for term in terms[1:]:
        total = total.add(term)
    return total


@pytest.mark.clause("5.4.3.4-3", "5.4.3.4-1")
def test_ckks_weighted_aggregation_spends_one_level_and_matches_plaintext(
    ckks_depth1: ckks.CKKSVectors, hospital_params: list[np.ndarray]
) -> None:
    total = weighted_sum(ckks_depth1, hospital_params, WEIGHTS)
    assert (total.levels_used, total.levels_left) == (1, 0)
    result = ckks_depth1.decrypt(total.to_chunks(), 700)
    expected = sum(w * p for w, p in zip(WEIGHTS, hospital_params, strict=True))
    assert np.max(np.abs(result - expected)) <= 1e-5


@pytest.mark.clause("5.4.3.4-3")
def test_ckks_multiplication_past_the_chain_is_refused_before_running(
    ckks_depth1: ckks.CKKSVectors, hospital_params: list[np.ndarray]
) -> None:
    total = weighted_sum(ckks_depth1, hospital_params, WEIGHTS)
    with pytest.raises(HEError, match=r"mul_plain needs 1 .* 1 of 1 are already used"):
        total.mul_plain(2.0)
    with pytest.raises(HEError, match=r"mul needs 1 .* 1 of 1"):
        total.mul(total)
    # The spent level travels in the chunks: a reloaded sum is refused the same way.
    reloaded = ckks_depth1.open(total.to_chunks())
    assert reloaded.levels_left == 0
    with pytest.raises(HEError, match="1 of 1"):
        reloaded.mul_plain(0.5)


@pytest.mark.clause("5.4.3.4-3")
def test_depth_zero_keys_refuse_any_multiplication() -> None:
    scheme = ckks.generate(max_addends=4)
    with pytest.raises(HEError, match=r"mul_plain needs 1 .* 0 of 0"):
        scheme.encrypt_vector(np.ones(3)).mul_plain(0.5)


@pytest.mark.clause("5.4.3.4-3")
def test_header_claiming_an_unspent_level_is_refused(
    ckks_depth1: ckks.CKKSVectors, hospital_params: list[np.ndarray]
) -> None:
    chunks = weighted_sum(ckks_depth1, hospital_params, WEIGHTS).to_chunks()
    forged = []
    for chunk in chunks:
        meta, index, count, body = unpack_chunk(chunk)
        forged.append(pack_chunk(dataclasses.replace(meta, levels_used=0), index, count, body))
    with pytest.raises(HEError, match="level does not match"):
        ckks_depth1.open(forged)


@pytest.mark.clause("5.4.3.4-3")
def test_adding_vectors_at_different_levels_is_refused(ckks_depth1: ckks.CKKSVectors) -> None:
    fresh = ckks_depth1.encrypt_vector(np.ones(4), bound=1.0)
    with pytest.raises(HEError, match="same multiplicative level"):
        fresh.add(fresh.mul_plain(0.5))


@pytest.mark.clause("5.4.3.4-3", "5.4.3.4-4")
def test_ckks_ciphertext_product_then_plaintext_product_uses_two_levels() -> None:
    # max_abs bounds every value a ciphertext may reach, products included.
    scheme = ckks.generate(depth=2, max_addends=4, max_abs=1e4)
    rng = np.random.default_rng(2)
    x, y = rng.uniform(-100, 100, 50), rng.uniform(-100, 100, 50)
    xs, ys = (scheme.encrypt_vector(v, bound=100.0) for v in (x, y))
    product = xs.mul(ys).mul_plain(0.25)
    assert product.levels_left == 0
    # The rescaling primes differ from 2**scale_bits; decryption corrects for both.
    assert np.max(np.abs(scheme.decrypt_vector(product) - 0.25 * x * y)) <= 1e-4


@pytest.mark.clause("5.4.3.4-3")
def test_ckks_product_that_could_outgrow_the_modulus_is_refused(
    ckks_depth1: ckks.CKKSVectors,
) -> None:
    fresh = ckks_depth1.encrypt_vector(np.ones(4))  # declared bound: max_abs = 2**17
    with pytest.raises(HEError, match="could reach magnitude"):
        fresh.mul(fresh)


# --- BFV: one 60-bit prime of noise budget per multiplication -------------------------------


@pytest.mark.clause("5.4.3.4-3", "5.4.3.4-1")
def test_bfv_integer_weights_spend_one_level_and_report_the_noise_budget(
    bfv_depth1: bfv.BFVVectors, hospital_params: list[np.ndarray]
) -> None:
    total = weighted_sum(bfv_depth1, hospital_params, SAMPLES)
    assert total.levels_left == 0 and total.noise_budget_bits is None  # aggregator: no key
    mine = bfv_depth1.open(total.to_chunks())
    fresh = bfv_depth1.encrypt_vector(hospital_params[0], bound=1e3)
    assert fresh.noise_budget_bits is not None and mine.noise_budget_bits is not None
    assert fresh.noise_budget_bits > mine.noise_budget_bits > 0
    expected = sum(k * p for k, p in zip(SAMPLES, hospital_params, strict=True))
    rounding = sum(SAMPLES) * 2.0 ** -(bfv_depth1.frac_bits + 1)
    assert np.max(np.abs(bfv_depth1.decrypt_vector(mine) - expected)) <= rounding
    with pytest.raises(HEError, match=r"mul_plain needs 1 .* 1 of 1"):
        mine.mul_plain(2)


@pytest.mark.clause("5.4.3.4-3")
def test_bfv_fractional_factor_and_overflowing_products_are_refused(
    bfv_depth1: bfv.BFVVectors,
) -> None:
    fresh = bfv_depth1.encrypt_vector(np.ones(4), bound=1e3)
    with pytest.raises(HEError, match="integer factors only"):
        fresh.mul_plain(0.5)
    with pytest.raises(HEError, match="overflow"):
        fresh.mul_plain(10**6)
    with pytest.raises(HEError, match="overflow"):
        fresh.mul(fresh)  # fraction bits double: far past the plain modulus


@pytest.mark.clause("5.4.3.4-3", "5.4.3.4-4")
def test_bfv_integer_ciphertext_product_is_exact_within_the_noise_budget() -> None:
    scheme = bfv.generate(depth=1, max_addends=2, max_abs=1000.0, frac_bits=0)
    x, y = np.arange(-20.0, 20.0), np.arange(40.0)
    product = scheme.encrypt_vector(x).mul(scheme.encrypt_vector(y))
    assert np.array_equal(scheme.decrypt_vector(product), x * y)
    assert product.noise_budget_bits is not None and product.noise_budget_bits > 0
    assert product.levels_left == 0


@pytest.mark.clause("5.4.3.4-3")
@pytest.mark.parametrize("module", [ckks, bfv])
def test_a_zero_weight_silences_a_vector(module: object) -> None:
    scheme = module.generate(depth=1, max_addends=4)  # type: ignore[attr-defined]
    fresh = scheme.encrypt_vector(np.arange(5.0), bound=10.0)
    zeroed = scheme.decrypt_vector(fresh.mul_plain(0))
    assert np.max(np.abs(zeroed)) <= 1e-6
