"""The node's half of secure aggregation: its update leaves only masked.

After local training the node keeps its weighted update in memory and walks the
protocol: advertise keys, share key shares, send the masked vector, answer unmasking.
No step sends the update in the clear.

Commitment (standard 5.5.1.1e): with its key shares the node sends a hash, in the suite the
round names, of the masked vector it is about to send; the dispatcher checks the vector
against it on arrival, so a vector swapped after the commitment is caught. The commitment
covers the masked vector for every roster neighbour; when one drops before the shares are
forwarded the masks change, and the dispatcher does not check that node's vector.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medfed.aggregation.secure import weighted_delta_vector
from medfed.core.config import DropoutStage, FaultTarget
from medfed.core.messages import Arrays, SecAggMessage
from medfed.crypto import get_suite
from medfed.errors import ProtocolError
from medfed.node.adversary import ProtocolTamper, SimulatedDropout
from medfed.privacy.dp import SecureRandom
from medfed.privacy.secagg import SecAggClient
from medfed.privacy.secagg.messages import (
    ForwardedShares,
    NodeShare,
    Roster,
    UnmaskRequest,
    UnmaskShares,
)
from medfed.privacy.secagg.wire import config_from_jsonable, from_jsonable, to_jsonable


class SecureSession:
    """One round of secure aggregation at one node."""

    def __init__(
        self,
        *,
        study_id: str,
        round_number: int,
        node: str,
        settings: dict[str, Any],
        new: Arrays,
        old: Arrays,
        weight: int,
        dp_noise_std: float | None = None,
        tamper: ProtocolTamper | None = None,
    ) -> None:
        """``tamper``: security evaluation only, the faults this (adversarial) node injects."""
        self.study_id = study_id
        self.tamper = tamper
        # The suite whose hash commits to the masked vector; absent: the round asks for none.
        commitment = settings.get("commitment")
        self._digest = get_suite(str(commitment)).digest if commitment else None
        self._committed: bytes | None = None  # the masked vector committed to, if garbage
        self.round = round_number
        self.node = node
        config = config_from_jsonable(settings["config"])
        cid = int(settings["ids"][node])
        self._client = SecAggClient(cid, config)
        noise = None
        if dp_noise_std is not None:
            # Client-level DP without a trusted aggregator: each node adds a share of the noise,
            # sized so that any t survivors (the fewest a round can finish with) carry the full
            # variance (sigma * C)^2; the update is then weighted 1, as DP-FedAvg averages uniformly.
            weight = 1
            size = sum(v.size for v in old.values() if np.issubdtype(v.dtype, np.floating))
            noise = SecureRandom().normal((size,), scale=dp_noise_std / np.sqrt(config.threshold))
        self._vector = weighted_delta_vector(new, old, weight, clip=config.clip, noise=noise)

    def _message(self, stage: str, body: Any, params: Arrays | None = None, metrics: dict[str, float] | None = None) -> SecAggMessage:
        return SecAggMessage(self.study_id, self.round, self.node, stage, body, params or {}, metrics or {})

    def advertise(self, metrics: dict[str, float]) -> SecAggMessage:
        return self._message("advertise", to_jsonable(self._client.advertise()), metrics=metrics)

    def respond(self, message: SecAggMessage) -> SecAggMessage:
        tamper = self.tamper
        if message.stage == "roster":
            roster = from_jsonable(message.body, expect=Roster)
            shares = self._client.receive_roster(roster)
            body = to_jsonable(shares)
            if self._digest is not None:
                planned = self._client.planned_masked_input(self._vector)
                if tamper is not None and tamper.targets(FaultTarget.COMMITTED_MASKED):
                    planned = self._committed = tamper.masked(planned)
                body["commitment"] = self._digest(planned).hex()
            return self._message("share_keys", body)
        if message.stage == "shares":
            if tamper is not None and tamper.drops_at(DropoutStage.AFTER_KEY_SHARING):
                raise SimulatedDropout(f"{self.node} dropped out after key sharing (simulated)")
            self._client.receive_shares(from_jsonable(message.body, expect=ForwardedShares))
            masked = self._client.masked_input(self._vector)
            self._vector = np.zeros(0)  # the plaintext is no longer needed
            data = masked.data
            if self._committed is not None:
                data = self._committed  # garbage, consistent with its commitment
            elif tamper is not None and tamper.targets(FaultTarget.MASKED):
                data = tamper.masked(data)
            body = {"type": "MaskedInput", "sender": masked.sender}
            return self._message("masked", body, {"masked": np.frombuffer(data, dtype=np.uint8)})
        if message.stage == "unmask":
            if tamper is not None and tamper.drops_at(DropoutStage.AFTER_MASKING):
                raise SimulatedDropout(f"{self.node} dropped out after masking (simulated)")
            request = from_jsonable(message.body, expect=UnmaskRequest)
            reply = self._client.unmask(request)
            if tamper is not None:
                reply = self._tampered(tamper, reply)
            return self._message("unmask_shares", to_jsonable(reply))
        raise ProtocolError(f"unexpected secure-aggregation stage {message.stage!r}")

    @staticmethod
    def _tampered(tamper: ProtocolTamper, reply: UnmaskShares) -> UnmaskShares:
        if tamper.drops_at(DropoutStage.DURING_UNMASKING):
            # Half of what was asked, then gone: the dispatcher refuses the reply and drops it.
            return UnmaskShares(reply.sender, reply.b_shares[: len(reply.b_shares) // 2], ())
        if not tamper.targets(FaultTarget.SHARES):
            return reply

        revealed = tuple((s.owner, s.value) for s in reply.b_shares + reply.s_shares)
        fake = [NodeShare(owner, value) for owner, value in tamper.shares(revealed)]
        split = len(reply.b_shares)
        return UnmaskShares(reply.sender, tuple(fake[:split]), tuple(fake[split:]))
