"""The aggregator's half of secure aggregation: a sans-IO state machine.

The server keeps only public keys, sealed shares it cannot open, and the running ring sum of
the masked inputs — never an individual input. Each ``roster`` / ``forwarded`` /
``unmask_requests`` / ``result`` call closes a stage: whoever has not sent by then has dropped.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from typing import NoReturn

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from medfed.privacy.secagg import _crypto, _shamir
from medfed.privacy.secagg._encoding import decode
from medfed.privacy.secagg.config import SecAggConfig
from medfed.privacy.secagg.errors import SecAggError
from medfed.privacy.secagg.messages import (
    AdvertiseKeys,
    EncryptedShare,
    ForwardedShares,
    MaskedInput,
    Roster,
    ShareKeys,
    UnmaskRequest,
    UnmaskShares,
)


class Stage(enum.Enum):
    """The stage whose messages the server is collecting."""

    ADVERTISE = "advertise"
    SHARE_KEYS = "share_keys"
    MASKED_INPUT = "masked_input"
    UNMASK = "unmask"
    DONE = "done"
    FAILED = "failed"


_NEXT = {
    Stage.ADVERTISE: Stage.SHARE_KEYS,
    Stage.SHARE_KEYS: Stage.MASKED_INPUT,
    Stage.MASKED_INPUT: Stage.UNMASK,
    Stage.UNMASK: Stage.DONE,
}


class SecAggServer:
    """Collects one round of ``config`` and outputs only the sum of the survivors' inputs."""

    def __init__(self, config: SecAggConfig) -> None:
        self._config = config
        self._stage = Stage.ADVERTISE
        self._keys: dict[int, AdvertiseKeys] = {}  # U1 once closed
        self._sealed: dict[int, tuple[EncryptedShare, ...]] = {}  # U2 once closed
        self._masked: set[int] = set()  # U3 once closed
        self._total: np.ndarray | None = None  # Σ masked inputs (mod 2^m)
        self._requests: dict[int, UnmaskRequest] = {}
        self._answered: set[int] = set()  # U5
        self._b_shares: dict[int, dict[int, int]] = {}  # owner → {x: y}
        self._s_shares: dict[int, dict[int, int]] = {}
        self._dropped: dict[int, Stage] = {}
        self._result: np.ndarray | None = None

    @property
    def stage(self) -> Stage:
        return self._stage

    @property
    def dropped(self) -> dict[int, Stage]:
        """Node → the stage whose message never arrived (those closed so far)."""
        return dict(self._dropped)

    @property
    def survivors(self) -> tuple[int, ...]:
        """Nodes whose input is (or may still become) part of the sum.

        A node that drops during unmasking stays: its masked input is already in the sum.
        """
        return tuple(
            cid
            for cid in self._config.client_ids
            if self._dropped.get(cid, Stage.UNMASK) is Stage.UNMASK
        )

    # Stage 1: advertise keys
    def receive_advertise(self, msg: AdvertiseKeys) -> None:
        self._expect(Stage.ADVERTISE, msg.sender, self._keys)
        if len(msg.c_public) != 32 or len(msg.s_public) != 32:
            raise SecAggError(f"node {msg.sender} advertised keys of the wrong length")
        self._keys[msg.sender] = msg

    def roster(self) -> dict[int, Roster]:
        """Close stage 1: each survivor gets its surviving neighbours' public keys."""
        self._close(Stage.ADVERTISE, self._keys.keys())
        graph = self._config.graph
        return {
            cid: Roster(cid, tuple(self._keys[v] for v in sorted(graph[cid] & self._keys.keys())))
            for cid in sorted(self._keys)
        }

    # Stage 2: share keys
    def receive_share_keys(self, msg: ShareKeys) -> None:
        self._expect(Stage.SHARE_KEYS, msg.sender, self._sealed)
        expected = self._config.graph[msg.sender] & self._keys.keys()
        receivers = [share.receiver for share in msg.shares]
        if sorted(receivers) != sorted(expected) or any(s.sender != msg.sender for s in msg.shares):
            raise SecAggError(f"node {msg.sender} must send one share to each roster neighbour")
        self._sealed[msg.sender] = msg.shares

    def forwarded(self) -> dict[int, ForwardedShares]:
        """Close stage 2: route each sealed share to its receiver, if that one is still here."""
        self._close(Stage.SHARE_KEYS, self._sealed.keys())
        inbox: dict[int, list[EncryptedShare]] = {cid: [] for cid in self._sealed}
        for shares in self._sealed.values():
            for share in shares:
                if share.receiver in inbox:
                    inbox[share.receiver].append(share)
        return {cid: ForwardedShares(cid, tuple(shares)) for cid, shares in sorted(inbox.items())}

    # Stage 3: masked input
    def receive_masked(self, msg: MaskedInput) -> None:
        self._expect(Stage.MASKED_INPUT, msg.sender, self._masked)
        dtype = self._config.ring_dtype
        if not msg.data or len(msg.data) % dtype.itemsize:
            raise SecAggError(f"masked input of node {msg.sender} is not a whole number of words")
        vector = np.frombuffer(msg.data, dtype=dtype)
        if self._total is None:
            self._total = vector.copy()
        elif vector.shape != self._total.shape:
            raise SecAggError(
                f"masked input of node {msg.sender} has {vector.size} values, others {self._total.size}"
            )
        else:
            np.add(self._total, vector, out=self._total)  # wraps mod 2^m, as the masks need
        self._masked.add(msg.sender)

    def unmask_requests(self) -> dict[int, UnmaskRequest]:
        """Close stage 3: ask each survivor for b-shares of survivors, s-shares of dropped."""
        self._close(Stage.MASKED_INPUT, self._masked)
        graph, late = self._config.graph, self._sealed.keys() - self._masked
        for cid in self._masked:  # fail now, before any share is revealed
            self._check_holders(cid, (graph[cid] | {cid}) & self._masked, "self-mask")
        for cid in late:
            self._check_holders(cid, graph[cid] & self._masked, "mask key")
        self._requests = {
            cid: UnmaskRequest(
                cid,
                tuple(sorted((graph[cid] | {cid}) & self._masked)),
                tuple(sorted(graph[cid] & late)),
            )
            for cid in sorted(self._masked)
        }
        return dict(self._requests)

    # Stage 4: unmasking
    def receive_unmask(self, msg: UnmaskShares) -> None:
        self._expect(Stage.UNMASK, msg.sender, self._answered)
        request = self._requests[msg.sender]
        b_owners = tuple(share.owner for share in msg.b_shares)
        s_owners = tuple(share.owner for share in msg.s_shares)
        if b_owners != request.survivors or s_owners != request.dropped:
            raise SecAggError(f"node {msg.sender} did not answer the unmask request it was sent")
        x = msg.sender + 1
        for share in msg.b_shares:
            self._b_shares.setdefault(share.owner, {})[x] = _shamir.from_bytes(share.value)
        for share in msg.s_shares:
            self._s_shares.setdefault(share.owner, {})[x] = _shamir.from_bytes(share.value)
        self._answered.add(msg.sender)

    def result(self) -> np.ndarray:
        """Close stage 4: the sum of the survivors' updates, float64 (d,)."""
        if self._result is not None:
            return self._result
        self._close(Stage.UNMASK, self._answered)
        for cid in self._masked:
            self._check_holders(cid, self._b_shares.get(cid, {}), "self-mask")
        late = self._sealed.keys() - self._masked
        for cid in late:
            self._check_holders(cid, self._s_shares.get(cid, {}), "mask key")
        total, cfg = self._total, self._config
        if total is None:  # unreachable: closing stage 3 needs t ≥ 2 inputs
            self._fail("no masked input arrived")
        streams = _crypto.MaskStreams(total.shape[0], cfg.ring_dtype)
        for cid in sorted(self._masked):
            seed = self._rebuild(self._b_shares[cid], cid, "self-mask seed")
            streams.add(total, seed, sign=-1)
        for cid in sorted(late):
            s_key = self._recover_mask_key(cid)
            for peer in sorted(cfg.graph[cid] & self._masked):
                seed = _crypto.agree(
                    s_key,
                    self._keys[peer].s_public,
                    round_seed=cfg.round_seed,
                    purpose=b"mask",
                    pair=(cid, peer),
                )
                # The survivor added +PRG(s) if its id is the smaller one, else −PRG(s).
                streams.add(total, seed, sign=-1 if peer < cid else 1)
        self._result = decode(total, cfg)
        self._total, self._b_shares, self._s_shares = None, {}, {}
        return self._result

    def _recover_mask_key(self, cid: int) -> X25519PrivateKey:
        key = _crypto.private_key_from(self._rebuild(self._s_shares[cid], cid, "mask key"))
        if _crypto.public_bytes(key) != self._keys[cid].s_public:
            self._fail(
                f"the mask key rebuilt for dropped node {cid} does not match its advertised key"
            )
        return key

    def _rebuild(self, shares: dict[int, int], cid: int, secret: str) -> bytes:
        """A 32-byte secret from its shares; a value that does not fit means corrupted shares."""
        value = _shamir.reconstruct(shares, self._config.threshold)
        if value >= 2**256:
            self._fail(f"the shares of node {cid}'s {secret} are inconsistent")
        return value.to_bytes(32, "big")

    def _expect(self, stage: Stage, sender: int, received: Collection[int]) -> None:
        if self._stage is not stage:
            raise SecAggError(
                f"{stage.value} message from node {sender} arrived in stage {self._stage.value}"
            )
        allowed = self._config.client_ids if stage is Stage.ADVERTISE else self.survivors
        if sender not in allowed:
            raise SecAggError(f"node {sender} is not in the round at stage {stage.value}")
        if sender in received:
            raise SecAggError(f"node {sender} sent its {stage.value} message twice")

    def _close(self, stage: Stage, arrived: Collection[int]) -> None:
        """Record who dropped at ``stage``, fail below t answers, else open the next stage."""
        if self._stage is not stage:
            raise SecAggError(f"cannot close stage {stage.value} in stage {self._stage.value}")
        for cid in self.survivors:
            if cid not in arrived:
                self._dropped[cid] = stage
        if len(arrived) < self._config.threshold:
            self._fail(
                f"only {len(arrived)} nodes answered in stage {stage.value}, threshold is "
                f"{self._config.threshold}; the round is aborted and no sum is revealed"
            )
        self._stage = _NEXT[stage]

    def _check_holders(self, cid: int, holders: Collection[int], secret: str) -> None:
        count = len(holders)
        if count < self._config.threshold:
            self._fail(
                f"node {cid}'s {secret} can be rebuilt from only {count} shares, threshold is "
                f"{self._config.threshold}; the round is aborted and no sum is revealed"
            )

    def _fail(self, message: str) -> NoReturn:
        # Forget everything that could help unmask anything once the round is lost.
        self._stage = Stage.FAILED
        self._total, self._b_shares, self._s_shares, self._result = None, {}, {}, None
        raise SecAggError(message)
