"""Packed Paillier ("paillier" VectorScheme): slots, bounds, encrypted sums, key material."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medfed.errors import HEError
from medfed.privacy.he import generate_scheme, load_scheme
from medfed.privacy.he._packing import Layout
from medfed.privacy.he._paillier_math import random_prime
from medfed.privacy.he.paillier import (
    MAGIC,
    PackedPaillier,
    PaillierPrivateKey,
    PaillierPublicKey,
    generate,
    generate_keypair,
    load,
)

pytestmark = pytest.mark.clause("5.4.3.4-2")
aggregation = pytest.mark.clause("5.4.3.4-1")
KeyPair = tuple[PaillierPublicKey, PaillierPrivateKey]
F = 32  # default frac_bits
STEP = 2.0**-F


@pytest.fixture(scope="session")
def keypair() -> KeyPair:
    return generate_keypair(2048)


@pytest.fixture(scope="session")
def scheme(keypair: KeyPair) -> PackedPaillier:
    return PackedPaillier(*keypair)


@pytest.fixture(scope="session")
def stranger() -> PackedPaillier:
    return generate()


def fixed(x: np.ndarray) -> np.ndarray:
    """What fixed-point encoding keeps of x."""
    return np.rint(x * 2.0**F) * STEP


def exact_sum(vectors: list[np.ndarray]) -> np.ndarray:
    """The fixed-point sum, added as Python integers (no int64 overflow), then as float64."""
    ints = np.sum([np.rint(v * 2.0**F).astype(np.int64).astype(object) for v in vectors], axis=0)
    return np.array([float(i) for i in ints]) * STEP


def test_default_layout_documents_its_bound() -> None:
    layout = Layout(2048, 32, 64)
    assert (layout.slots, layout.int_bits, layout.bound) == (31, 25, 2.0**25)
    assert Layout(3072, 32, 1).int_bits == 31
    assert Layout(4096, 16, 2**20).slots == 63


def test_impossible_layouts_are_refused() -> None:
    for frac_bits, max_addends in ((62, 2), (32, 2**31), (-1, 4), (32, 0), (32, 1.5)):
        with pytest.raises(HEError):
            Layout(2048, frac_bits, max_addends)  # type: ignore[arg-type]
    with pytest.raises(HEError):
        generate(frac_bits=60, max_addends=64)


def test_round_trip_keeps_negative_and_near_bound_values(scheme: PackedPaillier) -> None:
    edge = np.nextafter(scheme.bound, 0.0)  # the largest float below the bound
    rng = np.random.default_rng(1)
    x = np.concatenate(
        [[0.0, -0.0, 1.0, -1.0, edge, -edge, STEP, -STEP, 2.0**-40], rng.normal(0, 3, 60)]
    )
    chunks = scheme.encrypt(x)
    assert len(chunks) == 3
    assert np.array_equal(scheme.decrypt(chunks, x.size), fixed(x))
    assert np.max(np.abs(scheme.decrypt(chunks, x.size) - x)) <= STEP / 2


@pytest.mark.parametrize("size", [0, 1, 31, 32, 62, 63])
def test_chunk_count_follows_the_slot_count(scheme: PackedPaillier, size: int) -> None:
    x = np.linspace(-5, 5, size)
    chunks = scheme.encrypt(x)
    assert len(chunks) == -(-size // 31)
    assert np.array_equal(scheme.decrypt(chunks, size), fixed(x))


def test_values_at_or_beyond_the_bound_are_refused_before_encoding(
    scheme: PackedPaillier,
) -> None:
    bound = scheme.bound
    for bad in (bound, -bound, np.nextafter(bound, np.inf), 1e300, -1e300):
        with pytest.raises(HEError, match="bound"):
            scheme.encrypt(np.array([0.0, bad]))
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(HEError, match="not finite"):
            scheme.encrypt(np.array([1.0, bad]))
    with pytest.raises(HEError, match="1-D"):
        scheme.encrypt(np.zeros((2, 2)))


def test_encryption_is_randomised(scheme: PackedPaillier) -> None:
    x = np.ones(5)
    assert scheme.encrypt(x) != scheme.encrypt(x)


@aggregation
@settings(max_examples=60, deadline=None)
@given(st.integers(1, 64), st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_sum_of_packed_plaintexts_never_carries_between_slots(
    count: int, seed: int, at_edge: float
) -> None:
    # The plaintext of a homomorphic sum is the integer sum of the packed plaintexts.
    layout = Layout(2048, F, 64)
    edge = np.nextafter(layout.bound, 0.0)
    rng = np.random.default_rng(seed)
    values = rng.uniform(-edge, edge, (count, 40))
    extreme = rng.random((count, 40)) < at_edge  # pushes slots to their largest sums
    values[extreme] = np.sign(values[extreme]) * edge
    vectors = list(values)
    packed = [layout.pack(v) for v in vectors]
    summed = [sum(column) for column in zip(*packed, strict=True)]
    assert np.array_equal(layout.unpack(summed, count, 40), exact_sum(vectors))


@aggregation
def test_sum_of_max_addends_packed_vectors_decrypts_to_the_sum(scheme: PackedPaillier) -> None:
    edge = np.nextafter(scheme.bound, 0.0)  # the largest float below the bound
    rng = np.random.default_rng(2)
    # Slot 0 is at its largest in every vector, slot 1 at its smallest: no carry either way.
    vectors = [
        np.concatenate([[edge, -edge], rng.uniform(-edge, edge, 40)])
        for _ in range(scheme.max_addends)
    ]
    total = scheme.add([scheme.encrypt(v) for v in vectors])
    got = scheme.decrypt(total, 42)
    assert np.array_equal(got, exact_sum(vectors))
    assert np.allclose(got, np.sum(vectors, axis=0), rtol=1e-12, atol=64 * STEP)


@aggregation
def test_more_than_max_addends_vectors_are_refused(scheme: PackedPaillier) -> None:
    small = PackedPaillier(scheme.public_key, scheme._private, max_addends=4)
    one = small.encrypt(np.array([1.0, -2.0]))
    with pytest.raises(HEError, match="max_addends"):
        small.add([one] * 5)
    four = small.add([one] * 4)
    assert np.array_equal(small.decrypt(four, 2), [4.0, -8.0])
    with pytest.raises(HEError, match="max_addends"):
        small.add([four, one])
    with pytest.raises(HEError, match="max_addends"):
        small.decrypt(scheme.add([scheme.encrypt(np.ones(2))] * 5), 2)  # layout says ≤ 4


@aggregation
def test_ciphertexts_from_another_key_are_refused(
    scheme: PackedPaillier, stranger: PackedPaillier
) -> None:
    ours, theirs = scheme.encrypt(np.ones(3)), stranger.encrypt(np.ones(3))
    with pytest.raises(HEError, match="another key"):
        scheme.add([ours, theirs])
    with pytest.raises(HEError, match="another key"):
        scheme.decrypt(theirs, 3)


@aggregation
def test_ciphertexts_under_a_different_key_size_are_refused(scheme: PackedPaillier) -> None:
    big = generate(bits=3072)
    assert big.slots == 47
    chunks = big.encrypt(np.ones(3))
    assert np.array_equal(big.decrypt(chunks, 3), np.ones(3))
    with pytest.raises(HEError):
        scheme.add([scheme.encrypt(np.ones(3)), chunks])
    with pytest.raises(HEError):
        scheme.decrypt(chunks, 3)


@aggregation
def test_unequal_chunk_counts_and_empty_sums_are_refused(scheme: PackedPaillier) -> None:
    with pytest.raises(HEError, match="unequal"):
        scheme.add([scheme.encrypt(np.ones(3)), scheme.encrypt(np.ones(40))])
    with pytest.raises(HEError):
        scheme.add([])


def test_decrypting_with_the_wrong_size_or_a_tampered_chunk_is_refused(
    scheme: PackedPaillier,
) -> None:
    chunks = scheme.encrypt(np.ones(40))
    for size in (31, 63, -1):
        with pytest.raises(HEError):
            scheme.decrypt(chunks, size)
    header = chunks[0][:13]
    length = 2 * 2048 // 8
    for body in (bytes(length), scheme.public_key._n.to_bytes(length, "big")):
        with pytest.raises(HEError):
            scheme.decrypt([header + body, chunks[1]], 40)
    with pytest.raises(HEError, match="version"):
        scheme.decrypt([b"\x09" + chunks[0][1:], chunks[1]], 40)
    with pytest.raises(HEError, match="length"):
        scheme.decrypt([chunks[0][:-1], chunks[1]], 40)


@aggregation
def test_public_only_instance_adds_but_cannot_decrypt(scheme: PackedPaillier) -> None:
    blob = scheme.public_bytes()
    assert blob.startswith(MAGIC) and b'"p"' not in blob
    aggregator = load(blob)
    assert not aggregator.can_decrypt and scheme.can_decrypt
    x = np.array([0.25, -3.5, 1e4])
    total = aggregator.add([aggregator.encrypt(x), scheme.encrypt(-2 * x)])
    with pytest.raises(HEError, match="public key"):
        aggregator.decrypt(total, 3)
    with pytest.raises(HEError, match="public key"):
        aggregator.secret_bytes()
    assert np.array_equal(scheme.decrypt(total, 3), -x)


def test_secret_key_material_round_trips_through_the_registry(keypair: KeyPair) -> None:
    original = PackedPaillier(*keypair, max_addends=8, frac_bits=20)
    blob = original.secret_bytes()
    assert blob.startswith(b"medfed-he/paillier/v1\n")
    restored = load_scheme(blob)
    assert isinstance(restored, PackedPaillier) and restored.can_decrypt
    assert (restored.max_addends, restored.frac_bits) == (8, 20)
    x = np.array([1.5, -0.75])
    assert np.array_equal(restored.decrypt(original.encrypt(x), 2), x)
    public = load_scheme(original.public_bytes())
    assert isinstance(public, PackedPaillier) and public.public_key == original.public_key


def test_registry_generates_packed_paillier_with_options() -> None:
    made = generate_scheme("paillier", max_addends=16, frac_bits=24)
    assert isinstance(made, PackedPaillier)
    assert (made.name, made.max_addends, made.frac_bits, made.public_key.bits) == (
        "paillier",
        16,
        24,
        2048,
    )


def test_keys_below_2048_bits_are_refused_on_generate_and_on_load() -> None:
    with pytest.raises(HEError, match="policy"):
        generate(bits=1024)
    p, q = random_prime(512), random_prime(512)
    for body in (
        {"kind": "public", "n": format(int(p * q), "x"), "max_addends": 64, "frac_bits": 32},
        {
            "kind": "secret",
            "n": format(int(p * q), "x"),
            "p": format(int(p), "x"),
            "q": format(int(q), "x"),
            "max_addends": 64,
            "frac_bits": 32,
        },
    ):
        with pytest.raises(HEError, match="policy"):
            load(MAGIC + json.dumps(body).encode())


def test_malformed_key_material_is_refused(scheme: PackedPaillier) -> None:
    good = json.loads(scheme.secret_bytes()[len(MAGIC) :])
    broken = [
        {**good, "kind": "other"},
        {**good, "p": format(int(good["p"], 16) + 2, "x")},
        {**good, "n": "zz"},
        {**good, "max_addends": "64"},
        {key: value for key, value in good.items() if key != "q"},
    ]
    for body in broken:
        with pytest.raises(HEError):
            load(MAGIC + json.dumps(body).encode())
    for blob in (b"medfed-he/ckks/v1\n{}", MAGIC + b"{not json", MAGIC + b"\xff", MAGIC + b"[]"):
        with pytest.raises(HEError):
            load(blob)


def test_private_key_of_another_modulus_is_refused(
    keypair: KeyPair, stranger: PackedPaillier
) -> None:
    with pytest.raises(HEError):
        PackedPaillier(keypair[0], stranger._private)
