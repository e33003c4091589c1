"""The SecAgg+ neighbour graph: a Harary graph H(k, n) over a public random ordering of nodes.

Each node shares its secrets and pairwise masks only with its k neighbours, so client
cost is O(k) = O(log n) instead of O(n) (Bell et al. 2020, "Secure single-server aggregation
with (poly)logarithmic overhead", section 4).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

_FULL_GRAPH_UP_TO = 10


def default_degree(n: int) -> int:
    """Neighbours per node for ``n`` nodes: everyone up to 10 nodes, else 2⌈1.5·log2 n⌉.

    The constant is a heuristic in SecAgg+'s O(log n) family (n = 50 → 18, n = 1000 → 30);
    it is capped at n − 1, where the graph is complete. Pick ``neighbours`` explicitly from
    Bell et al.'s bounds when the corrupted and dropped fractions are known.
    """
    if n <= _FULL_GRAPH_UP_TO:
        return n - 1
    return min(n - 1, 2 * math.ceil(1.5 * math.log2(n)))


def ring_order(client_ids: Sequence[int], round_seed: bytes) -> list[int]:
    """The ids sorted by SHA-256(round_seed ‖ id): a permutation anyone can recompute.

    Sorting by a hash instead of shuffling with ``random`` keeps the graph identical across
    Python versions and implementations in other languages.
    """
    return sorted(
        client_ids, key=lambda cid: hashlib.sha256(round_seed + cid.to_bytes(4, "big")).digest()
    )


def neighbour_graph(
    client_ids: Sequence[int], degree: int, round_seed: bytes
) -> dict[int, frozenset[int]]:
    """Node id → its ``degree`` neighbours (never itself); symmetric.

    ``degree`` is n − 1 (complete graph) or even: node at ring position i links to positions
    i ± 1 … i ± degree/2.
    """
    order = ring_order(client_ids, round_seed)
    n = len(order)
    if degree >= n - 1:
        return {cid: frozenset(order) - {cid} for cid in order}
    half = degree // 2
    return {
        cid: frozenset(order[(i + step) % n] for step in range(-half, half + 1) if step != 0)
        for i, cid in enumerate(order)
    }
