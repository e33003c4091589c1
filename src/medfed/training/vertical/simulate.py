"""In-memory drivers: align parties by PSI, train with every message relayed through its
wire form, and predict jointly.

Prediction follows the usual hetero-LR scheme: for the rows to score (aligned the same way),
each host sends its plaintext partial scores u_h = X_h w_h to the guest, which adds its own
u_A + b and applies the sigmoid. The guest so learns u_h for scored rows, but neither X_h
nor w_h (it cannot split one inner product into its factors without many rows of X_h).
"""

from __future__ import annotations

import json
import random
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from medfed.data.tabular import Table, select_ids
from medfed.errors import DataError, ProtocolError, StudyFailedError
from medfed.privacy.he.paillier import PaillierPrivateKey
from medfed.privacy.psi import run_psi
from medfed.training.vertical.arbiter import ArbiterParty
from medfed.training.vertical.config import VerticalConfig
from medfed.training.vertical.guest import GuestParty
from medfed.training.vertical.host import HostParty
from medfed.training.vertical.messages import VerticalMessage, message_from_wire

__all__ = ["VerticalResult", "align_parties", "guest_of", "predict_vertical", "run_vertical_lr"]


def guest_of(tables: Mapping[str, Table]) -> str:
    """The one party whose table holds labels; DataError unless exactly one does."""
    holders = [name for name, t in tables.items() if t.labels is not None]
    if len(holders) != 1:
        raise DataError(f"exactly one party must hold the labels, found {holders}")
    return holders[0]


def align_parties(tables: Mapping[str, Table], *, study_id: str) -> dict[str, Table]:
    """Every party's rows for the patients all of them share, in sorted-ID order.

    The guest runs PSI with each host (as initiator), intersects the results, and tells each
    host the final list, which is a subset of that host's PSI result. DataError when some
    pair, or all together, share no patient.
    """
    guest = guest_of(tables)
    common = set(tables[guest].ids)
    for host, table in tables.items():
        if host != guest:
            common &= set(run_psi(tables[guest].ids, table.ids, study_id=study_id).intersection)
    if not common:
        raise DataError(f"no patients in common across all parties of study {study_id!r}")
    ids = sorted(common)
    return {name: select_ids(table, ids) for name, table in tables.items()}


@dataclass(frozen=True)
class VerticalResult:
    """A finished run. ``weights``: per data party (the guest's without bias); ``bias``
    (at the guest); ``traffic[t]``: bytes each sender put on the wire in iteration t (the
    key distribution counts in iteration 0); ``messages``: everything relayed, in order."""

    weights: dict[str, np.ndarray]
    bias: float
    traffic: tuple[dict[str, int], ...]
    messages: tuple[VerticalMessage, ...]
    seconds: float
    guest: GuestParty
    hosts: dict[str, HostParty]


def run_vertical_lr(
    parties_data: Mapping[str, Table],
    *,
    iterations: int,
    lr: float,
    l2: float = 0.0,
    batch_size: int | None = None,
    seed: int = 0,
    key_bits: int = 2048,
    arbiter: str = "arbiter",
    private_key: PaillierPrivateKey | None = None,
    frac_bits: int = 24,
    delivery_seed: int | None = None,
) -> VerticalResult:
    """Train on aligned ``parties_data`` (same IDs, same order; one table has labels).

    ``private_key`` reuses an existing arbiter key instead of generating one of
    ``key_bits``; ``delivery_seed`` delivers pending messages in a seeded random order
    instead of first-in first-out (any order a relay may produce must work).
    """
    guest = guest_of(parties_data)
    tables = dict(parties_data)
    ids = tables[guest].ids
    if not ids:
        raise DataError("no patients in common: nothing to train on")
    if any(t.ids != ids for t in tables.values()):
        raise DataError("parties' rows are not aligned: run align_parties (PSI) first")
    config = VerticalConfig(iterations, lr, l2, batch_size, seed, frac_bits)
    host_names = [name for name in tables if name != guest]
    labels = tables[guest].labels
    assert labels is not None
    g = GuestParty(
        guest, tables[guest].features, labels, hosts=host_names, arbiter=arbiter, config=config
    )
    hosts = {
        h: HostParty(h, tables[h].features, guest=guest, arbiter=arbiter, config=config)
        for h in host_names
    }
    sizes = {guest: tables[guest].features.shape[1] + 1} | {
        h: tables[h].features.shape[1] for h in host_names
    }
    arb = ArbiterParty(
        arbiter, parties=sizes, config=config, key_bits=key_bits, private_key=private_key
    )
    parties: dict[str, GuestParty | HostParty | ArbiterParty] = {guest: g, **hosts, arbiter: arb}

    started = time.perf_counter()
    traffic: list[dict[str, int]] = [dict.fromkeys(parties, 0) for _ in range(iterations)]
    log: list[VerticalMessage] = []
    pending: deque[VerticalMessage] = deque()
    for party in parties.values():
        pending.extend(party.start())
    shuffle = random.Random(delivery_seed) if delivery_seed is not None else None
    while pending:
        if shuffle is not None:
            pending.rotate(-shuffle.randrange(len(pending)))
        message = pending.popleft()
        header, arrays = message.to_wire()
        relayed = message_from_wire(header, arrays)
        size = len(json.dumps(header, separators=(",", ":")).encode()) + sum(
            a.nbytes for a in arrays.values()
        )
        traffic[min(message.iteration, iterations - 1)][message.sender] += size
        log.append(relayed)
        if relayed.recipient not in parties:
            raise ProtocolError(f"message for unknown party {relayed.recipient!r}")
        pending.extend(parties[relayed.recipient].receive(relayed))
    if not all(p.done for p in parties.values()):
        raise StudyFailedError("vertical LR stopped before the last iteration")
    return VerticalResult(
        weights={guest: g.weights} | {h: p.weights for h, p in hosts.items()},
        bias=g.bias,
        traffic=tuple(traffic),
        messages=tuple(log),
        seconds=time.perf_counter() - started,
        guest=g,
        hosts=hosts,
    )


def predict_vertical(result: VerticalResult, tables: Mapping[str, Table]) -> np.ndarray:
    """P(y = 1) float64 (n,) for aligned rows ``tables`` (one per data party, labels optional)."""
    guest = result.guest
    if set(tables) != {guest.name, *result.hosts}:
        raise DataError(f"need rows from exactly the parties {sorted({guest.name, *result.hosts})}")
    ids = tables[guest.name].ids
    if any(t.ids != ids for t in tables.values()):
        raise DataError("rows to score are not aligned across parties")
    scores = []
    for name, host in result.hosts.items():
        header, arrays = host.partial_scores(tables[name].features).to_wire()
        scores.append(message_from_wire(header, arrays))
    return guest.predict_proba(tables[guest.name].features, scores)
