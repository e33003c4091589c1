"""The node's half of secure aggregation: a sans-IO state machine (no network, no clock).

Each call consumes the server's last message and returns the next one to send; calls out of
order raise ``SecAggError``. Secrets (b, s_sk, c_sk) live only in this object and are
dropped as soon as the protocol no longer needs them.
"""

from __future__ import annotations

import enum
import secrets

import numpy as np

from medfed.privacy.secagg import _crypto, _shamir
from medfed.privacy.secagg._encoding import encode
from medfed.privacy.secagg._shamir import RandomSource
from medfed.privacy.secagg.config import SecAggConfig
from medfed.privacy.secagg.errors import SecAggError
from medfed.privacy.secagg.messages import (
    AdvertiseKeys,
    EncryptedShare,
    ForwardedShares,
    MaskedInput,
    NodeShare,
    Roster,
    ShareKeys,
    UnmaskRequest,
    UnmaskShares,
)

_SEED_BYTES = 32


class ClientStage(enum.Enum):
    NEW = "new"
    ADVERTISED = "advertised"  # keys sent, waiting for the roster
    SHARED = "shared"  # shares sent, waiting for the neighbours' shares
    READY = "ready"  # holds the neighbours' shares, may mask its input
    MASKED = "masked"  # masked input sent, waiting for the unmask request
    DONE = "done"


class SecAggClient:
    """Node ``cid``'s protocol state for one round of ``config``."""

    def __init__(self, cid: int, config: SecAggConfig, *, rng: RandomSource = secrets) -> None:
        if cid not in config.graph:
            raise SecAggError(f"node {cid} is not invited to this round")
        self.cid = cid
        self._config = config
        self._rng = rng
        self._stage = ClientStage.NEW
        self._neighbours = config.graph[cid]
        self._c_key = _crypto.new_private_key(rng)
        self._s_key = _crypto.new_private_key(rng)
        self._peers: dict[int, AdvertiseKeys] = {}  # roster: neighbour → its public keys
        self._box_keys: dict[int, bytes] = {}  # neighbour → AES key for shares
        self._seed = b""  # b, the self-mask seed
        self._own_b_share = 0
        self._held: dict[int, tuple[int, int]] = {}  # neighbour → (its b-share, its s-share)

    @property
    def stage(self) -> ClientStage:
        return self._stage

    def _expect(self, expected: ClientStage, action: str) -> None:
        # The stage moves on only when a step succeeds: a refused update or request can be
        # corrected, and nothing was revealed by the refusal.
        if self._stage is not expected:
            raise SecAggError(f"node {self.cid} cannot {action} in stage {self._stage.value}")

    def advertise(self) -> AdvertiseKeys:
        """Stage 1: the two fresh X25519 public keys (32 bytes each)."""
        self._expect(ClientStage.NEW, "advertise keys")
        c_public, s_public = _crypto.public_bytes(self._c_key), _crypto.public_bytes(self._s_key)
        self._stage = ClientStage.ADVERTISED
        return AdvertiseKeys(self.cid, c_public, s_public)

    def receive_roster(self, roster: Roster) -> ShareKeys:
        """Stage 2: split b and s_sk t-of-(k+1) and seal each neighbour's pair of shares."""
        self._expect(ClientStage.ADVERTISED, "share keys")
        cfg = self._config
        peers = {keys.sender: keys for keys in roster.keys}
        if roster.receiver != self.cid or len(peers) != len(roster.keys):
            raise SecAggError(f"roster for node {roster.receiver} is malformed or misaddressed")
        if not peers.keys() <= self._neighbours:
            raise SecAggError(
                f"roster names non-neighbours {sorted(peers.keys() - self._neighbours)}"
            )
        own = (_crypto.public_bytes(self._c_key), _crypto.public_bytes(self._s_key))
        all_keys = [k for keys in roster.keys for k in (keys.c_public, keys.s_public)] + list(own)
        if len(set(all_keys)) != len(all_keys):
            raise SecAggError("roster repeats a public key; refusing to share")
        self._require_threshold(len(peers) + 1, "neighbours in the roster")
        self._peers = peers
        self._seed = self._rng.token_bytes(_SEED_BYTES)
        holders = sorted(peers)
        # Both secrets are split over the neighbours and this node (t may equal their count);
        # the node keeps its own b-share and never reveals its own s-share.
        points = [h + 1 for h in holders] + [self.cid + 1]
        b_shares = _shamir.split(
            int.from_bytes(self._seed, "big"), points, cfg.threshold, self._rng
        )
        s_secret = int.from_bytes(_crypto.private_bytes(self._s_key), "big")
        s_shares = _shamir.split(s_secret, points, cfg.threshold, self._rng)
        self._own_b_share = b_shares[self.cid + 1]
        sealed = []
        for holder in holders:
            key = _crypto.agree(
                self._c_key,
                peers[holder].c_public,
                round_seed=cfg.round_seed,
                purpose=b"share",
                pair=(self.cid, holder),
            )
            self._box_keys[holder] = key
            plaintext = _shamir.to_bytes(b_shares[holder + 1]) + _shamir.to_bytes(
                s_shares[holder + 1]
            )
            ciphertext = _crypto.seal(
                key,
                plaintext,
                round_seed=cfg.round_seed,
                sender=self.cid,
                receiver=holder,
                rng=self._rng,
            )
            sealed.append(EncryptedShare(self.cid, holder, ciphertext))
        del self._c_key  # share keys are derived; c_sk has no further use
        self._stage = ClientStage.SHARED
        return ShareKeys(self.cid, tuple(sealed))

    def receive_shares(self, forwarded: ForwardedShares) -> None:
        """Stage 2 end: open the neighbours' shares; their senders are the mask partners."""
        self._expect(ClientStage.SHARED, "receive shares")
        senders = [share.sender for share in forwarded.shares]
        if forwarded.receiver != self.cid or len(set(senders)) != len(senders):
            raise SecAggError(f"forwarded shares for node {forwarded.receiver} are malformed")
        for share in forwarded.shares:
            if share.receiver != self.cid or share.sender not in self._box_keys:
                raise SecAggError(
                    f"share from node {share.sender} was not expected by node {self.cid}"
                )
            plaintext = _crypto.open_sealed(
                self._box_keys[share.sender],
                share.ciphertext,
                round_seed=self._config.round_seed,
                sender=share.sender,
                receiver=self.cid,
            )
            if len(plaintext) != 2 * _shamir.SHARE_BYTES:
                raise SecAggError(f"share from node {share.sender} has the wrong length")
            half = _shamir.SHARE_BYTES
            self._held[share.sender] = (
                _shamir.from_bytes(plaintext[:half]),
                _shamir.from_bytes(plaintext[half:]),
            )
        self._require_threshold(len(self._held) + 1, "neighbours that shared keys")
        self._box_keys.clear()
        self._stage = ClientStage.READY

    def masked_input(self, update: np.ndarray) -> MaskedInput:
        """Stage 3: encode (d,) floats, add PRG(b) and ±PRG(s_uv) per partner v; raw LE words.

        The sign is + when this node's id is the smaller of the pair, so masks cancel in the sum.
        """
        self._expect(ClientStage.READY, "mask its input")
        masked = self._mask(update, sorted(self._held))
        self._seed = b""  # b and s_sk now live only as shares held by the neighbours
        del self._s_key
        self._stage = ClientStage.MASKED
        return MaskedInput(self.cid, masked.tobytes())

    def planned_masked_input(self, update: np.ndarray) -> bytes:
        """The masked vector this node will send if every neighbour in the roster shares keys.

        Computed right after sharing keys, so the node can commit to it before any masked
        vector is visible; equal to :meth:`masked_input`'s data when no neighbour drops before
        the shares are forwarded. Nothing is revealed: the bytes are masked as sent.
        """
        self._expect(ClientStage.SHARED, "plan its masked input")
        return self._mask(update, sorted(self._peers)).tobytes()

    def _mask(self, update: np.ndarray, partners: list[int]) -> np.ndarray:
        cfg = self._config
        masked = encode(update, cfg)
        streams = _crypto.MaskStreams(masked.shape[0], cfg.ring_dtype)
        streams.add(masked, self._seed)
        for peer in partners:
            seed = _crypto.agree(
                self._s_key,
                self._peers[peer].s_public,
                round_seed=cfg.round_seed,
                purpose=b"mask",
                pair=(self.cid, peer),
            )
            streams.add(masked, seed, sign=1 if self.cid < peer else -1)
        return masked

    def unmask(self, request: UnmaskRequest) -> UnmaskShares:
        """Stage 4: b-shares of survivors, s-shares of dropped nodes; never both for one node."""
        self._expect(ClientStage.MASKED, "reveal shares")
        survivors, dropped = set(request.survivors), set(request.dropped)
        if both := survivors & dropped:
            raise SecAggError(
                f"unmask request asks for both the self-mask and the mask-key shares of node(s) "
                f"{sorted(both)}; revealing both would expose their input, refusing"
            )
        if request.receiver != self.cid or self.cid not in survivors or self.cid in dropped:
            raise SecAggError(f"unmask request must list node {self.cid} as a survivor")
        unknown = (survivors - {self.cid} | dropped) - self._held.keys()
        if unknown:
            raise SecAggError(
                f"unmask request names node(s) {sorted(unknown)} this node holds no shares of"
            )
        b_values = {peer: self._held[peer][0] for peer in survivors - {self.cid}}
        b_values[self.cid] = self._own_b_share
        response = UnmaskShares(
            self.cid,
            tuple(NodeShare(o, _shamir.to_bytes(b_values[o])) for o in sorted(b_values)),
            tuple(NodeShare(o, _shamir.to_bytes(self._held[o][1])) for o in sorted(dropped)),
        )
        self._held.clear()
        self._stage = ClientStage.DONE
        return response

    def _require_threshold(self, count: int, what: str) -> None:
        if count < self._config.threshold:
            raise SecAggError(
                f"node {self.cid}: only {count} {what} (itself included), threshold is "
                f"{self._config.threshold}; the round cannot finish"
            )
