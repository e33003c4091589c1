"""Whole rounds in memory: masks cancel, drop-outs at any stage, too few survivors."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medfed.privacy.secagg import (
    AdvertiseKeys,
    SecAggClient,
    SecAggConfig,
    SecAggError,
    SecAggServer,
    Stage,
    simulate_round,
)
from medfed.privacy.secagg._encoding import encode

SEED = bytes(range(32))


class SeededRandom:
    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def token_bytes(self, nbytes: int) -> bytes:
        return self._random.randbytes(nbytes)


def fixed_point_sum(
    updates: dict[int, np.ndarray], ids: Iterable[int], config: SecAggConfig
) -> np.ndarray:
    """The exact sum the protocol must return: Σ round(x · scale) / scale."""
    total = np.zeros(next(iter(updates.values())).shape, np.float64)
    for cid in ids:
        total += np.rint(updates[cid].astype(np.float64) * config.scale)
    return total / config.scale


def make_updates(config: SecAggConfig, d: int, seed: int = 0) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {cid: rng.uniform(-1, 1, d).astype(np.float32) for cid in config.client_ids}


@st.composite
def rounds(draw: st.DrawFn) -> tuple[SecAggConfig, dict[int, np.ndarray]]:
    n = draw(st.integers(3, 8))
    k = n - 1
    t = draw(st.integers((k + 1) // 2 + 1, k))
    ids = draw(st.lists(st.integers(0, 2**20), min_size=n, max_size=n, unique=True))
    config = SecAggConfig(
        client_ids=tuple(ids),
        threshold=t,
        clip=4.0,
        round_seed=draw(st.binary(min_size=16, max_size=32)),
        modulus_bits=draw(st.sampled_from([32, 64])),
        scale_bits=draw(st.integers(0, 20)),
    )
    d = draw(st.integers(1, 40))
    values = st.floats(-4.0, 4.0, allow_nan=False, width=32)
    updates = {
        cid: np.array(draw(st.lists(values, min_size=d, max_size=d)), dtype=np.float32)
        for cid in config.client_ids
    }
    return config, updates


@pytest.mark.clause("5.5.1.1a", "5.4.1")
@settings(max_examples=50, deadline=None)
@given(rounds(), st.integers(0, 2**32))
def test_masks_cancel_exactly(case: tuple[SecAggConfig, dict[int, np.ndarray]], seed: int) -> None:
    config, updates = case
    total = simulate_round(config, updates, rng=SeededRandom(seed))
    expected = fixed_point_sum(updates, config.client_ids, config)
    np.testing.assert_array_equal(total * config.scale, expected * config.scale)


@pytest.mark.clause("5.5.1.1a")
@pytest.mark.parametrize(
    ("stage", "counted"),
    [
        (Stage.ADVERTISE, False),  # never joins
        (Stage.SHARE_KEYS, False),  # drops after advertising keys
        (Stage.MASKED_INPUT, False),  # drops after sharing keys: its mask key is rebuilt
        (Stage.UNMASK, True),  # drops after its masked input: its self-mask seed is rebuilt
    ],
)
def test_dropped_node_leaves_the_exact_sum_of_the_others(stage: Stage, counted: bool) -> None:
    config = SecAggConfig(client_ids=tuple(range(6)), threshold=4, clip=2.0, round_seed=SEED)
    updates = make_updates(config, 300)
    server = SecAggServer(config)
    total = simulate_round(config, updates, drop_before={2: stage, 4: stage}, server=server)
    survivors = [cid for cid in config.client_ids if counted or cid not in (2, 4)]
    np.testing.assert_array_equal(total, fixed_point_sum(updates, survivors, config))
    assert server.dropped == {2: stage, 4: stage}


@pytest.mark.clause("5.5.1.1a")
def test_node_lost_during_unmasking_is_still_summed() -> None:
    config = SecAggConfig(client_ids=tuple(range(7)), threshold=4, clip=2.0, round_seed=SEED)
    updates = make_updates(config, 200, seed=1)
    server = SecAggServer(config)
    clients = {cid: SecAggClient(cid, config) for cid in config.client_ids}
    for client in clients.values():
        server.receive_advertise(client.advertise())
    rosters = server.roster()
    for cid, client in clients.items():
        server.receive_share_keys(client.receive_roster(rosters[cid]))
    inboxes = server.forwarded()
    for cid, client in clients.items():
        client.receive_shares(inboxes[cid])
        server.receive_masked(client.masked_input(updates[cid]))
    requests = server.unmask_requests()
    replies = {cid: client.unmask(requests[cid]) for cid, client in clients.items()}
    for cid in (0, 3, 5, 6):  # 1, 2 and 4 answered, but their replies were lost
        server.receive_unmask(replies[cid])
    total = server.result()
    np.testing.assert_array_equal(total, fixed_point_sum(updates, config.client_ids, config))
    with pytest.raises(SecAggError, match="arrived in stage done"):
        server.receive_unmask(replies[1])  # too late: the stage is closed


@pytest.mark.clause("5.5.1.1a")
def test_sparse_graph_round_with_drop_outs_at_every_stage() -> None:
    ids = tuple(range(100, 130))
    config = SecAggConfig.recommended(ids, clip=1.0, round_seed=SEED, neighbours=8)
    assert config.degree == 8 and config.threshold == 5
    updates = make_updates(config, 100, seed=2)
    drops = {
        103: Stage.SHARE_KEYS,
        111: Stage.MASKED_INPUT,
        117: Stage.MASKED_INPUT,
        125: Stage.UNMASK,
    }
    total = simulate_round(config, updates, drop_before=drops, rng=SeededRandom(3))
    survivors = [cid for cid in ids if drops.get(cid) in (None, Stage.UNMASK)]
    np.testing.assert_array_equal(total, fixed_point_sum(updates, survivors, config))


@pytest.mark.clause("5.5.1.1a")
def test_thin_neighbourhood_fails_before_any_share_is_revealed() -> None:
    config = SecAggConfig(
        client_ids=tuple(range(12)), threshold=3, clip=1.0, round_seed=SEED, neighbours=4
    )
    victim = 5
    drops = {v: Stage.MASKED_INPUT for v in config.graph[victim]}
    server = SecAggServer(config)
    with pytest.raises(SecAggError, match=f"node {victim}'s self-mask can be rebuilt from only 1"):
        simulate_round(config, make_updates(config, 10), drop_before=drops, server=server)
    assert server.stage is Stage.FAILED


@pytest.mark.parametrize("kind", ["b_shares", "s_shares"])
def test_corrupted_unmask_share_fails_the_round(kind: str) -> None:
    config = SecAggConfig(client_ids=tuple(range(5)), threshold=3, clip=1.0, round_seed=SEED)
    updates = make_updates(config, 50, seed=6)
    server = SecAggServer(config)
    clients = {cid: SecAggClient(cid, config) for cid in config.client_ids}
    for client in clients.values():
        server.receive_advertise(client.advertise())
    rosters = server.roster()
    for cid, client in clients.items():
        server.receive_share_keys(client.receive_roster(rosters[cid]))
    inboxes = server.forwarded()
    for cid in (0, 1, 2, 3):  # node 4 drops after sharing keys
        clients[cid].receive_shares(inboxes[cid])
        server.receive_masked(clients[cid].masked_input(updates[cid]))
    requests = server.unmask_requests()
    for cid in (0, 1, 2, 3):
        reply = clients[cid].unmask(requests[cid])
        if cid == 0:  # node 0 holds the first point of every reconstruction
            shares = getattr(reply, kind)
            bad = dataclasses.replace(shares[-1], value=(12345).to_bytes(66, "big"))
            corrupted = (*shares[:-1], bad)
            if kind == "b_shares":
                reply = dataclasses.replace(reply, b_shares=corrupted)
            else:
                reply = dataclasses.replace(reply, s_shares=corrupted)
        server.receive_unmask(reply)
    with pytest.raises(SecAggError, match="inconsistent|does not match its advertised key"):
        server.result()
    assert server.stage is Stage.FAILED


def _arrays_and_bytes(obj: object, seen: set[int] | None = None) -> list[object]:
    """Every ndarray and bytes value reachable from obj's attributes and containers."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, np.ndarray | bytes):
        return [obj]
    if isinstance(obj, dict):
        items = list(obj.keys()) + list(obj.values())
    elif isinstance(obj, list | tuple | set | frozenset):
        items = list(obj)
    elif hasattr(obj, "__dict__"):
        items = list(vars(obj).values())
    else:
        return []
    return [found for item in items for found in _arrays_and_bytes(item, seen)]


@pytest.mark.clause("5.5.1.1a")
@pytest.mark.parametrize(
    "stage", [Stage.ADVERTISE, Stage.SHARE_KEYS, Stage.MASKED_INPUT, Stage.UNMASK]
)
def test_too_few_survivors_fail_and_reveal_nothing(stage: Stage) -> None:
    config = SecAggConfig(client_ids=tuple(range(6)), threshold=4, clip=2.0, round_seed=SEED)
    updates = make_updates(config, 500, seed=4)
    server = SecAggServer(config)
    with pytest.raises(SecAggError, match="threshold is 4"):
        simulate_round(config, updates, drop_before={0: stage, 1: stage, 2: stage}, server=server)
    assert server.stage is Stage.FAILED
    with pytest.raises(SecAggError):
        server.result()
    # No individual input, encoded or not, and no partial sum is left on the server.
    held = _arrays_and_bytes(server)
    assert not [a for a in held if isinstance(a, np.ndarray)]
    for update in updates.values():
        for secret in (update.tobytes(), encode(update, config).tobytes()):
            assert all(secret not in value for value in held if isinstance(value, bytes))


@pytest.mark.clause("5.5.1.1a")
def test_server_holds_only_the_running_sum_of_masked_inputs() -> None:
    config = SecAggConfig(client_ids=tuple(range(4)), threshold=3, clip=2.0, round_seed=SEED)
    updates = make_updates(config, 1000, seed=5)
    server = SecAggServer(config)
    clients = {cid: SecAggClient(cid, config) for cid in config.client_ids}
    for client in clients.values():
        server.receive_advertise(client.advertise())
    rosters = server.roster()
    for cid, client in clients.items():
        server.receive_share_keys(client.receive_roster(rosters[cid]))
    inboxes = server.forwarded()
    for cid, client in clients.items():
        client.receive_shares(inboxes[cid])
        server.receive_masked(client.masked_input(updates[cid]))
    arrays = [a for a in _arrays_and_bytes(server) if isinstance(a, np.ndarray)]
    assert len(arrays) == 1  # the ring sum; each node's vector was added and let go
    for update in updates.values():
        assert not np.array_equal(arrays[0], encode(update, config))


def test_messages_out_of_order_are_refused() -> None:
    config = SecAggConfig(client_ids=(1, 2, 3), threshold=2, clip=1.0, round_seed=SEED)
    server = SecAggServer(config)
    client = SecAggClient(1, config)
    keys = client.advertise()
    server.receive_advertise(keys)
    with pytest.raises(SecAggError, match="twice"):
        server.receive_advertise(keys)
    with pytest.raises(SecAggError, match="cannot mask its input"):
        client.masked_input(np.zeros(3, np.float32))
    with pytest.raises(SecAggError, match="cannot close stage share_keys"):
        server.forwarded()
    with pytest.raises(SecAggError, match="not in the round"):
        server.receive_advertise(AdvertiseKeys(9, b"x" * 32, b"y" * 32))
