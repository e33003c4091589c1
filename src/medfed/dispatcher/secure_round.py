"""The dispatcher's side of one securely aggregated round, as a sans-IO state machine.

It routes protocol messages between the nodes through :class:`SecAggServer` and moves
to the next stage when every node still in the round has answered or dropped. The
dispatcher only ever holds masked vectors and, at the end, their sum.

Integrity (standard 5.5.1.1e): the unmasking shares are held back until every survivor
has answered, then checked against each other (every share of one secret lies on one
polynomial of degree t − 1, see :mod:`medfed.aggregation.secure_integrity`). A node whose
share is off the polynomial is named in :attr:`SecureRound.faults` and all of its shares
are left out (policy: exclude); the sum is rebuilt from the consistent shares when at
least t remain. Its masked input is already inside the sum and stays there: removing it
would need its mask key, which honest nodes only reveal for nodes that dropped earlier.
When too many shares disagree to tell who lied, the round is aborted (detected, nobody named).

Masked-vector commitments (when the round's settings name a ``commitment`` suite): each node
sends, with its key shares and so before any masked vector is visible, the suite's hash of
the masked vector it will send. On arrival the vector is checked against it; a node whose
vector does not match is named and refused, and the round carries on as if it had dropped
after sharing keys (its pairwise masks are removed through the others' shares, so the sum is
that of the other nodes). A node that commits to garbage and sends that garbage is not
caught by this check: the commitment binds a node to its vector, not the vector to an honest
input. When a neighbour of a node drops before the shares are forwarded, that node's masks
(hence its vector) differ from what it committed to, and its vector is not checked.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any

import numpy as np

from medfed.aggregation.secure_integrity import find_share_faults
from medfed.core.messages import SecAggMessage
from medfed.crypto import get_suite
from medfed.errors import MedfedError, ProtocolError
from medfed.privacy.secagg import SecAggConfig, SecAggServer
from medfed.privacy.secagg._shamir import from_bytes as share_from_bytes
from medfed.privacy.secagg.errors import SecAggError
from medfed.privacy.secagg.messages import (
    AdvertiseKeys,
    MaskedInput,
    ShareKeys,
    UnmaskRequest,
    UnmaskShares,
)
from medfed.privacy.secagg.wire import (
    config_from_jsonable,
    config_to_jsonable,
    from_jsonable,
    to_jsonable,
)

Outgoing = list[tuple[str, SecAggMessage]]

# A 2^32 ring keeps the masked upload the size of a float32 update. With a 2^-12 fixed-point
# step, n nodes can each contribute |sample count x parameter change| up to 2^19 / n
# (about 10,000 for 50 hospitals) before the sum could wrap; larger values are clipped.
RING_BITS, SCALE_BITS = 32, 12

# The reply each stage waits for, and the stage that follows once all are in.
_EXPECT = {"advertise": "advertise", "share_keys": "share_keys", "masked": "masked", "unmask": "unmask_shares"}


class SecureRound:
    def __init__(
        self,
        *,
        study_id: str,
        round_number: int,
        settings: dict[str, Any],
        vector_size: int,
        on_fault: Callable[[str, str], None] | None = None,
    ) -> None:
        """``on_fault(node, finding)``: called once per node the integrity checks name (e.g. the
        dispatcher's evidence hook, so the ledger records it)."""
        self._on_fault = on_fault
        # Fixed by the model, not by whichever node answers first.
        self._masked_bytes = vector_size * RING_BITS // 8
        self.study_id = study_id
        self.round = round_number
        self._ids: dict[str, int] = {name: int(cid) for name, cid in settings["ids"].items()}
        self._names = {cid: name for name, cid in self._ids.items()}
        self._config = config_from_jsonable(settings["config"])
        self._server = SecAggServer(self._config)
        self.stage = "advertise"
        self._waiting: set[str] = set(self._ids)
        self._requests: dict[int, UnmaskRequest] = {}
        self._unmask: dict[str, UnmaskShares] = {}  # held back until every share can be cross-checked
        self.metrics: dict[str, dict[str, float]] = {}
        self.result: np.ndarray | None = None
        self.faults: dict[str, str] = {}  # node -> what the integrity checks found
        commitment = settings.get("commitment")
        self._digest = get_suite(str(commitment)).digest if commitment else None
        self._digest_bytes = len(self._digest(b"")) if self._digest is not None else 0
        self._commitments: dict[str, bytes] = {}  # node -> hash of the masked vector it will send
        self._roster_peers: dict[int, set[int]] = {}

    @property
    def included(self) -> list[str]:
        """Nodes whose update is part of the sum (a node lost while unmasking still counts)."""
        return sorted(self._names[cid] for cid in self._server.survivors)

    @property
    def pending(self) -> set[str]:
        return set(self._waiting)

    def receive(self, node: str, message: SecAggMessage) -> Outgoing:
        """Take one node's message; returns the messages of the next stage when it opens."""
        if node not in self._waiting or message.stage != _EXPECT.get(self.stage):
            raise ProtocolError(f"{node} sent {message.stage!r} while the round is at {self.stage!r}")
        try:
            if self.stage == "advertise":
                self._server.receive_advertise(self._own(node, from_jsonable(message.body, expect=AdvertiseKeys)))
                self.metrics[node] = dict(message.metrics)
            elif self.stage == "share_keys":
                body = dict(message.body)
                commitment = self._commitment_of(node, body.pop("commitment", None))
                self._server.receive_share_keys(self._own(node, from_jsonable(body, expect=ShareKeys)))
                if commitment is not None:
                    self._commitments[node] = commitment
            elif self.stage == "masked":
                data = message.params.get("masked")
                if data is None or data.dtype != np.uint8 or data.nbytes != self._masked_bytes:
                    raise ProtocolError(
                        f"{node} sent no masked vector of {self._masked_bytes} bytes (uint8)"
                    )
                self._check_commitment(node, data.tobytes())
                self._server.receive_masked(MaskedInput(self._ids[node], data.tobytes()))
            else:
                reply = self._own(node, from_jsonable(message.body, expect=UnmaskShares))
                request = self._requests[reply.sender]
                if (tuple(sh.owner for sh in reply.b_shares), tuple(sh.owner for sh in reply.s_shares)) != (
                    request.survivors,
                    request.dropped,
                ):
                    raise SecAggError(f"node {reply.sender} did not answer the unmask request it was sent")
                for share in reply.b_shares + reply.s_shares:
                    share_from_bytes(share.value)  # a value that is no field element is refused now
                self._unmask[node] = reply
        except (MedfedError, TypeError, AttributeError, ValueError, KeyError, RecursionError) as exc:
            # The node's own message is at fault: it is refused, and the node leaves the round.
            raise ProtocolError(f"{node}: {exc}") from None
        self._waiting.discard(node)
        return self._advance()

    def drop(self, node: str) -> Outgoing:
        """A node left or timed out: the protocol carries on without its next message."""
        if node not in self._waiting:
            return []
        self._waiting.discard(node)
        return self._advance()

    def _commitment_of(self, node: str, value: Any) -> bytes | None:
        """The hash (hex in the body) a node commits to its masked vector with; None if not asked."""
        if self._digest is None:
            return None
        try:
            digest = bytes.fromhex(value) if isinstance(value, str) else b""
        except ValueError:
            digest = b""
        if len(digest) != self._digest_bytes:
            raise ProtocolError(f"{node} sent no commitment of {self._digest_bytes} bytes to its masked vector")
        return digest

    def _check_commitment(self, node: str, data: bytes) -> None:
        """Name and refuse a node whose masked vector is not the one it committed to."""
        committed = self._commitments.get(node)
        if committed is None or self._digest is None:
            return
        cid = self._ids[node]
        if not self._roster_peers.get(cid, set()) <= set(self._server.survivors):
            return  # a neighbour dropped after the roster: its masks changed, the hash cannot match
        if not hmac.compare_digest(self._digest(data), committed):
            self._fault(node, "sent a masked vector that does not match the commitment it sent with its key shares")
            raise ProtocolError(f"{node}'s masked vector does not match its commitment")

    def _fault(self, node: str, finding: str) -> None:
        if node in self.faults:
            return
        self.faults[node] = finding
        if self._on_fault is not None:
            self._on_fault(node, finding)

    def _own(self, node: str, msg: Any) -> Any:
        if msg.sender != self._ids[node]:
            raise ProtocolError(f"{node} sent a message signed as node {msg.sender}")
        return msg

    def _advance(self) -> Outgoing:
        if self._waiting:
            return []
        if self.stage == "advertise":
            rosters = self._server.roster()
            self._roster_peers = {cid: {keys.sender for keys in m.keys} for cid, m in rosters.items()}
            out = {cid: ("roster", to_jsonable(m)) for cid, m in rosters.items()}
            self.stage = "share_keys"
        elif self.stage == "share_keys":
            out = {cid: ("shares", to_jsonable(m)) for cid, m in self._server.forwarded().items()}
            self.stage = "masked"
        elif self.stage == "masked":
            self._requests = self._server.unmask_requests()
            out = {cid: ("unmask", to_jsonable(m)) for cid, m in self._requests.items()}
            self.stage = "unmask"
        else:
            self._unmask_checked()
            self.result = self._server.result()
            self.stage = "done"
            return []
        self._waiting = {self._names[cid] for cid in out}
        if not self._waiting:
            return self._advance()
        return [
            (self._names[cid], SecAggMessage(self.study_id, self.round, self._names[cid], stage, body, {}))
            for cid, (stage, body) in sorted(out.items())
        ]


    def _unmask_checked(self) -> None:
        """Cross-check every share, then hand the server the shares of the consistent nodes."""
        by_secret: dict[tuple[int, str], dict[int, int]] = {}
        for reply in self._unmask.values():
            x = reply.sender + 1
            for kind, shares in (("self-mask", reply.b_shares), ("mask key", reply.s_shares)):
                for share in shares:
                    by_secret.setdefault((share.owner, kind), {})[x] = share_from_bytes(share.value)
        faults, undecided = find_share_faults(by_secret, self._config.threshold)
        for fault in faults:
            owner = self._names.get(fault.owner, str(fault.owner))
            self._fault(
                self._names[fault.holder], f"sent a Shamir share of {owner}'s {fault.secret} inconsistent with the others"
            )
        if undecided:
            owners = ", ".join(f"{self._names.get(o, o)}'s {kind}" for o, kind in undecided)
            raise SecAggError(
                f"the shares of {owners} disagree beyond what can be attributed; "
                "the round is aborted and no sum is revealed"
            )
        for node, reply in sorted(self._unmask.items()):
            if node not in self.faults:
                self._server.receive_unmask(reply)
        self._unmask = {}

def secure_settings(template: dict[str, Any], participants: list[str]) -> dict[str, Any]:
    """This round's public protocol parameters: node ids, threshold, a fresh round seed."""
    ids = {name: index + 1 for index, name in enumerate(sorted(participants))}
    options: dict[str, Any] = {"modulus_bits": RING_BITS, "scale_bits": SCALE_BITS}
    if template.get("threshold"):
        options["threshold"] = int(template["threshold"])
    # The suite whose hash commits each node to its masked vector (checked only when named).
    commitment = {"commitment": str(template["commitment"])} if template.get("commitment") else {}
    clip = 0.99 * 2 ** (RING_BITS - 1 - SCALE_BITS) / len(ids)
    config = SecAggConfig.recommended(
        tuple(ids.values()),
        clip=clip,
        round_seed=secrets.token_bytes(16),
        **options,
    )
    return {"ids": ids, "config": config_to_jsonable(config), **commitment}
