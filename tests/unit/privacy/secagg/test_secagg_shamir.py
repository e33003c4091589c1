"""Shamir sharing over GF(2^521 − 1): any t of n shares rebuild the secret, t − 1 do not."""

from __future__ import annotations

import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from medfed.privacy.secagg import SecAggError
from medfed.privacy.secagg._shamir import PRIME, from_bytes, reconstruct, split, to_bytes


class SeededRandom:
    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def token_bytes(self, nbytes: int) -> bytes:
        return self._random.randbytes(nbytes)


@st.composite
def sharings(draw: st.DrawFn) -> tuple[int, dict[int, int], int, list[int]]:
    n = draw(st.integers(2, 12))
    t = draw(st.integers(1, n))
    secret = draw(st.integers(0, 2**512 - 1))
    xs = draw(st.lists(st.integers(1, 2**32), min_size=n, max_size=n, unique=True))
    shares = split(secret, xs, t, SeededRandom(draw(st.integers(0, 2**32))))
    subset = draw(st.permutations(xs))
    return secret, shares, t, subset


@pytest.mark.clause("5.5.1.1a")
@settings(max_examples=60, deadline=None)
@given(sharings())
def test_any_t_shares_reconstruct_the_secret(
    case: tuple[int, dict[int, int], int, list[int]],
) -> None:
    secret, shares, t, order = case
    for start in range(len(order) - t + 1):
        chosen = {x: shares[x] for x in order[start : start + t]}
        assert reconstruct(chosen, t) == secret


@pytest.mark.clause("5.5.1.1a")
@settings(max_examples=60, deadline=None)
@given(sharings())
def test_t_minus_one_shares_do_not_reveal_the_secret(
    case: tuple[int, dict[int, int], int, list[int]],
) -> None:
    secret, shares, t, order = case
    assume(t >= 2)
    few = {x: shares[x] for x in order[: t - 1]}
    with pytest.raises(SecAggError, match="need"):
        reconstruct(few, t)
    # Interpolating them as if they were enough misses the secret: the random coefficients
    # make any value of f(0) equally consistent with t − 1 points.
    assert reconstruct(few, t - 1) != secret


def test_share_values_round_trip_through_bytes() -> None:
    assert from_bytes(to_bytes(PRIME - 1)) == PRIME - 1
    with pytest.raises(SecAggError):
        from_bytes(b"\xff" * 66)
    with pytest.raises(SecAggError):
        from_bytes(b"\x01" * 65)


def test_split_refuses_bad_parameters() -> None:
    rng = SeededRandom(1)
    with pytest.raises(SecAggError):
        split(2**512, [1, 2, 3], 2, rng)
    with pytest.raises(SecAggError):
        split(5, [1, 2, 3], 4, rng)
    with pytest.raises(SecAggError):
        split(5, [1, 1, 3], 2, rng)
    with pytest.raises(SecAggError):
        split(5, [0, 1, 3], 2, rng)
