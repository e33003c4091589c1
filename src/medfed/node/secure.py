"""The node's half of secure aggregation: its update leaves only masked.

After local training the node keeps its weighted update in memory and walks the
protocol: advertise keys, share key shares, send the masked vector, answer unmasking.
No step sends the update in the clear.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medfed.aggregation.secure import weighted_delta_vector
from medfed.core.messages import Arrays, SecAggMessage
from medfed.errors import ProtocolError
from medfed.privacy.dp import SecureRandom
from medfed.privacy.secagg import SecAggClient
from medfed.privacy.secagg.messages import ForwardedShares, Roster, UnmaskRequest
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
    ) -> None:
        self.study_id = study_id
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
        if message.stage == "roster":
            roster = from_jsonable(message.body, expect=Roster)
            return self._message("share_keys", to_jsonable(self._client.receive_roster(roster)))
        if message.stage == "shares":
            self._client.receive_shares(from_jsonable(message.body, expect=ForwardedShares))
            masked = self._client.masked_input(self._vector)
            self._vector = np.zeros(0)  # the plaintext is no longer needed
            body = {"type": "MaskedInput", "sender": masked.sender}
            return self._message("masked", body, {"masked": np.frombuffer(masked.data, dtype=np.uint8)})
        if message.stage == "unmask":
            request = from_jsonable(message.body, expect=UnmaskRequest)
            return self._message("unmask_shares", to_jsonable(self._client.unmask(request)))
        raise ProtocolError(f"unexpected secure-aggregation stage {message.stage!r}")
