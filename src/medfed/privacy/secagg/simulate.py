"""An in-memory runner: drives one client per node and the server through the four stages.

It stands in for the transport in tests and benchmarks; nodes can drop before any stage.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

import numpy as np

from medfed.privacy.secagg._shamir import RandomSource
from medfed.privacy.secagg.client import SecAggClient
from medfed.privacy.secagg.config import SecAggConfig
from medfed.privacy.secagg.server import SecAggServer, Stage

_RANK = {Stage.ADVERTISE: 0, Stage.SHARE_KEYS: 1, Stage.MASKED_INPUT: 2, Stage.UNMASK: 3}


def simulate_round(
    config: SecAggConfig,
    updates: Mapping[int, np.ndarray],
    *,
    drop_before: Mapping[int, Stage] | None = None,
    server: SecAggServer | None = None,
    rng: RandomSource = secrets,
) -> np.ndarray:
    """The securely aggregated sum (float64, (d,)) of ``updates`` (node id → float (d,)).

    ``drop_before[cid] = stage`` makes node cid vanish before sending its message of that
    stage (ADVERTISE: never joins; UNMASK: sends its masked input, never its shares).
    Pass ``server`` to inspect it afterwards; raises ``SecAggError`` if the round fails.
    """
    drops = dict(drop_before or {})
    server = server or SecAggServer(config)
    clients = {cid: SecAggClient(cid, config, rng=rng) for cid in config.client_ids}

    def active(stage: Stage) -> list[int]:
        """Nodes the server still counts that have not vanished before ``stage``."""
        here = set(server.survivors)
        return [
            cid
            for cid in clients
            if cid in here and _RANK.get(drops.get(cid, Stage.DONE), 4) > _RANK[stage]
        ]

    for cid in active(Stage.ADVERTISE):
        server.receive_advertise(clients[cid].advertise())
    rosters = server.roster()
    for cid in active(Stage.SHARE_KEYS):
        server.receive_share_keys(clients[cid].receive_roster(rosters[cid]))
    inboxes = server.forwarded()
    for cid in active(Stage.MASKED_INPUT):
        clients[cid].receive_shares(inboxes[cid])
        server.receive_masked(clients[cid].masked_input(updates[cid]))
    requests = server.unmask_requests()
    for cid in active(Stage.UNMASK):
        server.receive_unmask(clients[cid].unmask(requests[cid]))
    return server.result()
