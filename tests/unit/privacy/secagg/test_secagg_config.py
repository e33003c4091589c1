"""Round parameters: thresholds against the neighbour graph, the graph itself, the public API."""

from __future__ import annotations

import math

import pytest

import medfed.privacy.secagg as secagg
from medfed.errors import MedfedError
from medfed.privacy.secagg import SecAggConfig, SecAggError, default_degree

SEED = b"\x07" * 32


@pytest.mark.clause("5.5.1.1a")
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"client_ids": (1, 2)}, "at least 3 nodes"),
        ({"client_ids": (1, 1, 2)}, "distinct"),
        ({"client_ids": (-1, 1, 2)}, "distinct"),
        ({"threshold": 6}, r"\(k \+ 1\)/2 < t ≤ k with k = 5"),  # t > k: a dropped node is lost
        ({"threshold": 3}, r"\(k \+ 1\)/2 < t ≤ k with k = 5"),  # not a majority of 6
        ({"round_seed": b"short"}, "at least 16 bytes"),
        ({"modulus_bits": 16}, "32 or 64"),
        ({"clip": float("inf")}, "positive finite"),
        ({"neighbours": 3}, "even number"),
        ({"neighbours": 6}, "even number"),
    ],
)
def test_invalid_configs_are_refused(options: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "client_ids": tuple(range(6)),
        "threshold": 4,
        "clip": 1.0,
        "round_seed": SEED,
    }
    with pytest.raises(SecAggError, match=message):
        SecAggConfig(**{**base, **options})  # type: ignore[arg-type]


def test_neighbour_degree_grows_logarithmically() -> None:
    assert [default_degree(n) for n in (3, 10, 11, 50, 1000)] == [2, 9, 10, 18, 30]
    for n in (100, 1000, 10_000):
        assert default_degree(n) <= 2 * math.ceil(1.5 * math.log2(n))


def test_recommended_threshold_is_the_smallest_majority() -> None:
    config = SecAggConfig.recommended(tuple(range(50)), clip=1.0, round_seed=SEED)
    assert (config.degree, config.threshold) == (18, 10)
    assert SecAggConfig.recommended((4, 5, 6), clip=1.0, round_seed=SEED).threshold == 2


def test_neighbour_graph_is_regular_symmetric_and_set_by_the_round_seed() -> None:
    ids = tuple(range(0, 200, 4))
    config = SecAggConfig.recommended(ids, clip=1.0, round_seed=SEED)
    graph = config.graph
    assert set(graph) == set(ids)
    for cid, neighbours in graph.items():
        assert len(neighbours) == config.degree and cid not in neighbours
        assert all(cid in graph[v] for v in neighbours)
    same = SecAggConfig.recommended(tuple(reversed(ids)), clip=1.0, round_seed=SEED)
    other = SecAggConfig.recommended(ids, clip=1.0, round_seed=b"\x08" * 32)
    assert same.graph == graph and other.graph != graph


def test_public_api_is_listed() -> None:
    assert sorted(secagg.__all__) == [
        "AdvertiseKeys",
        "ClientStage",
        "EncryptedShare",
        "ForwardedShares",
        "MaskedInput",
        "NodeShare",
        "Roster",
        "SecAggClient",
        "SecAggConfig",
        "SecAggError",
        "SecAggServer",
        "ShareKeys",
        "Stage",
        "UnmaskRequest",
        "UnmaskShares",
        "default_degree",
        "payload_size",
        "simulate_round",
    ]
    assert issubclass(SecAggError, MedfedError) and SecAggError.code == "secagg"
