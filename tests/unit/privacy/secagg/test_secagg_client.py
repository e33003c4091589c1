"""The node side: bounds before encoding, refusals, tamper detection, uniform uploads."""

from __future__ import annotations

import dataclasses
import random
from typing import Any, TypeVar

import numpy as np
import pytest

from medfed.privacy.secagg import (
    ClientStage,
    ForwardedShares,
    SecAggClient,
    SecAggConfig,
    SecAggError,
    SecAggServer,
    UnmaskRequest,
    payload_size,
)

SEED = b"medfed-secagg-test-round-0000001"
M = TypeVar("M")


class SeededRandom:
    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def token_bytes(self, nbytes: int) -> bytes:
        return self._random.randbytes(nbytes)


def ready_round(
    n: int = 4, threshold: int = 3, seed: int = 0, **options: Any
) -> tuple[SecAggConfig, SecAggServer, dict[int, SecAggClient], dict[int, ForwardedShares]]:
    """A round brought to just before the clients open their forwarded shares."""
    config = SecAggConfig(
        client_ids=tuple(range(n)), threshold=threshold, round_seed=SEED, **{"clip": 1.0, **options}
    )
    server = SecAggServer(config)
    clients = {cid: SecAggClient(cid, config, rng=SeededRandom(seed + cid)) for cid in range(n)}
    for client in clients.values():
        server.receive_advertise(client.advertise())
    rosters = server.roster()
    for cid, client in clients.items():
        server.receive_share_keys(client.receive_roster(rosters[cid]))
    return config, server, clients, server.forwarded()


def masked_round(
    updates: dict[int, np.ndarray], **options: Any
) -> tuple[SecAggConfig, SecAggServer, dict[int, SecAggClient], dict[int, bytes]]:
    config, server, clients, inboxes = ready_round(**options)
    uploads = {}
    for cid, client in clients.items():
        client.receive_shares(inboxes[cid])
        message = client.masked_input(updates[cid])
        server.receive_masked(message)
        uploads[cid] = message.data
    return config, server, clients, uploads


@pytest.mark.clause("5.5.1.1a")
def test_config_refuses_a_ring_that_could_overflow() -> None:
    with pytest.raises(SecAggError, match=r"n·clip·scale = 50·1000.0·2\^16 = 3.277e\+09"):
        SecAggConfig(client_ids=tuple(range(50)), threshold=10, clip=1000.0, round_seed=SEED)
    # The same bound fits a 64-bit ring.
    SecAggConfig(
        client_ids=tuple(range(50)), threshold=10, clip=1000.0, round_seed=SEED, modulus_bits=64
    )


@pytest.mark.clause("5.5.1.1a")
def test_update_beyond_the_clip_bound_is_refused_before_masking() -> None:
    config, _, clients, inboxes = ready_round(clip=0.5)
    client = clients[0]
    client.receive_shares(inboxes[0])
    with pytest.raises(SecAggError, match=r"update value 0.75 exceeds the clip bound 0.5"):
        client.masked_input(np.array([0.1, -0.75, 0.2], np.float32))
    with pytest.raises(SecAggError, match="NaN or Inf"):
        client.masked_input(np.array([0.1, np.nan], np.float32))
    assert client.stage is ClientStage.READY  # nothing was sent: the node may clip and retry
    client.masked_input(np.clip(np.array([0.1, -0.75, 0.2], np.float32), -0.5, 0.5))
    assert client.stage is ClientStage.MASKED


@pytest.mark.clause("5.5.1.1a")
def test_request_for_both_shares_of_one_node_is_refused() -> None:
    updates = {cid: np.full(8, 0.25, np.float32) for cid in range(4)}
    _, _, clients, _ = masked_round(updates)
    greedy = UnmaskRequest(receiver=0, survivors=(0, 1, 2), dropped=(2, 3))
    with pytest.raises(
        SecAggError, match=r"both the self-mask and the mask-key shares of node\(s\) \[2\]"
    ):
        clients[0].unmask(greedy)
    # The refusal revealed nothing and the node still answers an honest request.
    reply = clients[0].unmask(UnmaskRequest(receiver=0, survivors=(0, 1, 2), dropped=(3,)))
    assert [s.owner for s in reply.b_shares] == [0, 1, 2]
    assert [s.owner for s in reply.s_shares] == [3]
    with pytest.raises(SecAggError, match="cannot reveal shares in stage done"):
        clients[0].unmask(UnmaskRequest(receiver=0, survivors=(0,), dropped=(1,)))


def test_request_naming_unknown_nodes_is_refused() -> None:
    updates = {cid: np.zeros(4, np.float32) for cid in range(4)}
    _, _, clients, _ = masked_round(updates)
    with pytest.raises(SecAggError, match="must list node 1 as a survivor"):
        clients[1].unmask(UnmaskRequest(receiver=1, survivors=(0, 2), dropped=(3,)))
    with pytest.raises(SecAggError, match=r"holds no shares of"):
        clients[1].unmask(UnmaskRequest(receiver=1, survivors=(1, 7), dropped=()))


@pytest.mark.clause("5.5.1.1a")
def test_tampered_share_ciphertext_is_detected() -> None:
    _, _, clients, inboxes = ready_round()
    inbox = inboxes[2]
    first = inbox.shares[0]
    flipped = bytearray(first.ciphertext)
    flipped[20] ^= 0x01
    tampered = dataclasses.replace(first, ciphertext=bytes(flipped))
    forged = ForwardedShares(2, (tampered, *inbox.shares[1:]))
    with pytest.raises(
        SecAggError,
        match=f"share ciphertext from node {first.sender} to node 2 failed authentication",
    ):
        clients[2].receive_shares(forged)


def test_share_rerouted_to_another_node_is_detected() -> None:
    _, _, clients, inboxes = ready_round()
    # The server relabels node 1's share for node 0 as if it were node 3's share for node 2 ...
    stolen = next(s for s in inboxes[0].shares if s.sender == 1)
    relabelled = dataclasses.replace(stolen, sender=3, receiver=2)
    others = tuple(s for s in inboxes[2].shares if s.sender != 3)
    with pytest.raises(SecAggError, match="failed authentication"):
        clients[2].receive_shares(ForwardedShares(2, (*others, relabelled)))


@pytest.mark.clause("5.5.1.1a")
@pytest.mark.parametrize("value", [0.0, 0.3])
def test_masked_upload_bytes_look_uniform(value: float) -> None:
    stats = pytest.importorskip("scipy.stats")
    d = 200_000
    updates = {cid: np.full(d, value, np.float32) for cid in range(4)}
    _, _, _, uploads = masked_round(updates, seed=11)
    counts = np.bincount(np.frombuffer(uploads[0], np.uint8), minlength=256)
    assert counts.sum() == 4 * d
    assert stats.chisquare(counts).pvalue > 0.001
    # The plain encoding would be anything but uniform: one repeated word.
    assert len(set(np.frombuffer(uploads[0], np.uint32)[:1000].tolist())) > 990


@pytest.mark.clause("5.4.1")
def test_upload_is_about_the_size_of_the_float32_update() -> None:
    d, n = 50_000, 10
    config = SecAggConfig(client_ids=tuple(range(n)), threshold=6, clip=1.0, round_seed=SEED)
    server = SecAggServer(config)
    clients = {cid: SecAggClient(cid, config) for cid in range(n)}
    sent = {cid: 0 for cid in range(n)}

    def upload(cid: int, message: M) -> M:
        sent[cid] += payload_size(message)
        return message

    for cid, client in clients.items():
        server.receive_advertise(upload(cid, client.advertise()))
    rosters = server.roster()
    for cid, client in clients.items():
        server.receive_share_keys(upload(cid, client.receive_roster(rosters[cid])))
    inboxes = server.forwarded()
    for cid, client in clients.items():
        client.receive_shares(inboxes[cid])
        masked = client.masked_input(np.zeros(d, np.float32))
        assert len(masked.data) == 4 * d  # raw uint32 words, one per float32
        server.receive_masked(upload(cid, masked))
    requests = server.unmask_requests()
    for cid, client in clients.items():
        server.receive_unmask(upload(cid, client.unmask(requests[cid])))
    np.testing.assert_array_equal(server.result(), np.zeros(d))
    # On top of 4·d: keys (72 bytes), nine sealed share pairs and ten shares (~2.5 kB).
    assert max(sent.values()) < 4 * d + 3_000
