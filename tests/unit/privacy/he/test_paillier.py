"""Raw Paillier: textbook and phe-compatible ciphertexts, homomorphic laws, key policy."""

from __future__ import annotations

import pickle

import gmpy2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phe import paillier as phe

from medfed.errors import HEError
from medfed.privacy.he._paillier_math import CrtDecryptor, Obfuscator, encrypt_with, random_prime
from medfed.privacy.he.paillier import (
    PaillierPrivateKey,
    PaillierPublicKey,
    decode_fixed,
    encode_fixed,
    generate_keypair,
)

pytestmark = pytest.mark.clause("5.4.3.4-2")

KeyPair = tuple[PaillierPublicKey, PaillierPrivateKey]
plaintexts = st.integers(-(2**200), 2**200)
factors = st.integers(-(2**64), 2**64)


@pytest.fixture(scope="session")
def keypair() -> KeyPair:
    return generate_keypair(2048)


@pytest.fixture(scope="session")
def other_keypair() -> KeyPair:
    return generate_keypair(2048)


def test_textbook_ciphertext_matches_the_known_answer() -> None:
    # p = 17, q = 19, n = 323, g = n + 1, m = 42, r = 23:
    # c = (1 + 42·323) · 23^323 mod 323² = 35763 (python-paillier's raw_encrypt agrees).
    c = encrypt_with(323, 42, 23)
    assert c == 35763
    assert phe.PaillierPublicKey(323).raw_encrypt(42, r_value=23) == 35763
    assert CrtDecryptor(17, 19).decrypt(gmpy2.mpz(c)) == 42


def test_fixed_randomness_ciphertext_equals_phe_on_a_full_size_key(keypair: KeyPair) -> None:
    public, _ = keypair
    m, r = 123456789123456789, 2**1000 + 12345
    expected = phe.PaillierPublicKey(public.n).raw_encrypt(m, r_value=r)
    assert public._encrypt_with(m, r) == expected


def test_phe_and_medfed_decrypt_each_others_ciphertexts(keypair: KeyPair) -> None:
    public, private = keypair
    phe_public = phe.PaillierPublicKey(public.n)
    phe_private = phe.PaillierPrivateKey(phe_public, private.p, private.q)
    for m in (0, 1, 2**300 + 7, -5, -(2**400)):
        assert private.decrypt(phe_public.raw_encrypt(m % public.n)) == m
        assert phe_private.raw_decrypt(public.encrypt(m)) == m % public.n


@settings(max_examples=25, deadline=None)
@given(plaintexts, plaintexts)
def test_product_of_ciphertexts_decrypts_to_the_sum(keypair: KeyPair, a: int, b: int) -> None:
    public, private = keypair
    assert private.decrypt(public.add(public.encrypt(a), public.encrypt(b))) == a + b
    assert private.decrypt(public.add_plain(public.encrypt(a), b)) == a + b


@settings(max_examples=25, deadline=None)
@given(plaintexts, factors)
def test_scalar_multiple_decrypts_to_the_product(keypair: KeyPair, a: int, k: int) -> None:
    public, private = keypair
    c = public.encrypt(a)
    assert private.decrypt(public.mul_plain(c, k)) == k * a
    assert private.decrypt(public.neg(c)) == -a


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(plaintexts, factors), min_size=0, max_size=6))
def test_dot_product_decrypts_to_the_signed_sum(
    keypair: KeyPair, pairs: list[tuple[int, int]]
) -> None:
    public, private = keypair
    cs = [public.encrypt(m) for m, _ in pairs]
    ks = [k for _, k in pairs]
    assert private.decrypt(public.dot(cs, ks)) == sum(m * k for m, k in pairs)


def test_negative_plaintexts_decrypt_centred(keypair: KeyPair) -> None:
    public, private = keypair
    limit = public.n // 3 - 1
    values = [-1, -(2**64), -limit, limit]
    assert private.decrypt_many([public.encrypt(m) for m in values]) == values


def test_plaintext_of_a_third_of_the_modulus_is_refused(keypair: KeyPair) -> None:
    public, _ = keypair
    for m in (public.n // 3, -(public.n // 3), public.n):
        with pytest.raises(HEError, match="n // 3"):
            public.encrypt(m)


def test_encryption_is_randomised_and_rerandomisation_keeps_the_plaintext(
    keypair: KeyPair,
) -> None:
    public, private = keypair
    c1, c2 = public.encrypt(7), public.encrypt(7)
    fresh = public.rerandomize(c1)
    assert len({c1, c2, fresh}) == 3
    assert private.decrypt(fresh) == 7


def test_noise_is_an_nth_residue_with_and_without_the_factors(keypair: KeyPair) -> None:
    public, private = keypair
    decryptor = CrtDecryptor(private.p, private.q)
    for noise in (Obfuscator(public.n), Obfuscator(public.n, (private.p, private.q))):
        draws = [noise.draw() for _ in range(4)]
        assert len(set(draws)) == 4
        assert decryptor.decrypt_many(draws) == [0] * 4
        assert decryptor.decrypt_many(draws, threads=False) == [0] * 4


def test_ciphertext_bytes_round_trip_at_fixed_length(keypair: KeyPair) -> None:
    public, private = keypair
    c = public.encrypt(-99)
    data = public.ciphertext_bytes(c)
    assert len(data) == 2 * public.bits // 8 == 512
    assert public.ciphertext_from_bytes(data) == c
    assert private.decrypt(public.ciphertext_from_bytes(data)) == -99


def test_malformed_ciphertext_bytes_are_refused(keypair: KeyPair) -> None:
    public, private = keypair
    length = 2 * public.bits // 8
    bad = [
        bytes(length),  # zero
        b"\xff" * length,  # not below n²
        (public.n**2).to_bytes(length, "big"),
        (private.p * 12345).to_bytes(length, "big"),  # shares a factor with n
        b"\x01" * (length - 1),  # wrong length
    ]
    for data in bad:
        with pytest.raises(HEError):
            public.ciphertext_from_bytes(data)
    with pytest.raises(HEError):
        public.ciphertext_bytes(0)


def test_fingerprint_names_the_key(keypair: KeyPair, other_keypair: KeyPair) -> None:
    public, _ = keypair
    assert len(public.fingerprint()) == 8
    assert public.fingerprint() == PaillierPublicKey(public.n).fingerprint()
    assert public.fingerprint() != other_keypair[0].fingerprint()


def test_dot_with_unequal_lengths_is_refused(keypair: KeyPair) -> None:
    public, _ = keypair
    with pytest.raises(HEError):
        public.dot([public.encrypt(1)], [1, 2])


def test_negating_a_non_unit_is_refused(keypair: KeyPair) -> None:
    public, private = keypair
    for operation in (
        lambda: public.neg(private.p),
        lambda: public.mul_plain(private.q * 3, -2),
        lambda: public.dot([public.encrypt(1), private.p], [1, -1]),
    ):
        with pytest.raises(HEError):
            operation()


def test_keys_below_2048_bits_are_refused_everywhere() -> None:
    with pytest.raises(HEError, match="policy"):
        generate_keypair(1024)
    p, q = random_prime(512), random_prime(512)
    with pytest.raises(HEError, match="policy"):
        PaillierPublicKey(int(p * q))
    with pytest.raises(HEError, match="policy"):
        PaillierPrivateKey(int(p), int(q))
    with pytest.raises(HEError, match="odd"):
        PaillierPublicKey(2**2048)


def test_unsound_factors_are_refused(keypair: KeyPair) -> None:
    _, private = keypair
    with pytest.raises(HEError):
        PaillierPrivateKey(private.p, private.p)
    with pytest.raises(HEError):
        PaillierPrivateKey(private.p, private.q + 2)


def test_generated_modulus_has_exactly_the_requested_bits(keypair: KeyPair) -> None:
    public, private = keypair
    assert public.bits == 2048
    assert private.p.bit_length() == private.q.bit_length() == 1024
    assert "p=" not in repr(private) and str(private.p) not in repr(private)


def test_public_key_pickles_as_its_modulus(keypair: KeyPair) -> None:
    public, private = keypair
    public.encrypt(1)  # builds the noise table, which must not travel
    data = pickle.dumps(public)
    assert len(data) < 1000
    copy = pickle.loads(data)
    assert copy == public
    assert private.decrypt(copy.encrypt(-3)) == -3


def test_fixed_point_round_trip_and_non_finite_refusal() -> None:
    values = np.array([[0.5, -1.25], [3.0e6, -(2.0**-20)]])
    ints = encode_fixed(values, 32)
    assert ints == [2**31, -(5 * 2**30), 3_000_000 * 2**32, -(2**12)]
    assert np.array_equal(decode_fixed(ints, 32), values.ravel())
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(HEError, match="not finite"):
            encode_fixed(np.array([bad]), 32)
    with pytest.raises(HEError, match="too large"):
        encode_fixed(np.array([1e308]), 32)


def test_fixed_point_values_survive_homomorphic_sums(keypair: KeyPair) -> None:
    public, private = keypair
    x, y = np.array([0.1, -2.5, 1e-6]), np.array([-0.3, 2.5, 4.0])
    cx = [public.encrypt(m) for m in encode_fixed(x, 40)]
    cy = [public.encrypt(m) for m in encode_fixed(y, 40)]
    sums = private.decrypt_many([public.add(a, b) for a, b in zip(cx, cy, strict=True)])
    assert np.allclose(decode_fixed(sums, 40), x + y, rtol=0, atol=2.0**-40)
