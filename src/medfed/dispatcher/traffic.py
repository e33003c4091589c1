"""Communication accounting (Appendix A.3): bytes and latency per round, server and each client.

Bytes are the serialised frames as handed to the transport (after serialisation,
before TLS record overhead); latency is measured at the dispatcher from sending a
node its task to receiving its reply.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Link:
    bytes_sent: int = 0  # by the client
    bytes_received: int = 0  # by the client
    sent_at: float | None = None
    seconds: float | None = None  # None: no reply came this round


@dataclass
class _Round:
    links: dict[str, _Link] = field(default_factory=lambda: defaultdict(_Link))


class TrafficMeter:
    def __init__(self) -> None:
        self._rounds: dict[int, _Round] = defaultdict(_Round)
        self.setup_bytes: dict[str, int] = defaultdict(int)

    def to_node(self, round_number: int | None, node: str, nbytes: int, *, now: float) -> None:
        if round_number is None:
            self.setup_bytes[node] += nbytes
            return
        link = self._rounds[round_number].links[node]
        link.bytes_received += nbytes
        if link.sent_at is None:
            link.sent_at = now

    def from_node(self, round_number: int | None, node: str, nbytes: int, *, now: float) -> None:
        if round_number is None:
            self.setup_bytes[node] += nbytes
            return
        link = self._rounds[round_number].links[node]
        link.bytes_sent += nbytes
        if link.sent_at is not None and link.seconds is None:
            link.seconds = now - link.sent_at

    def round_summary(self, round_number: int, seconds: float) -> dict[str, Any]:
        """One entry of results.json ``rounds``."""
        links = self._rounds[round_number].links
        clients = {
            node: {
                "bytes_sent": link.bytes_sent,
                "bytes_received": link.bytes_received,
                "seconds": None if link.seconds is None else round(link.seconds, 6),
            }
            for node, link in sorted(links.items())
        }
        server_sent = sum(link.bytes_received for link in links.values())
        server_received = sum(link.bytes_sent for link in links.values())
        return {
            "round": round_number,
            "seconds": round(seconds, 6),
            "server": {
                "bytes_sent": server_sent,
                "bytes_received": server_received,
                "throughput_mb_s": round((server_sent + server_received) / 1e6 / seconds, 3)
                if seconds > 0
                else None,
            },
            "clients": clients,
        }


def totals(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum of the per-round figures, for the server and for each client."""
    server = {"bytes_sent": 0, "bytes_received": 0}
    clients: dict[str, dict[str, float]] = defaultdict(
        lambda: {"bytes_sent": 0, "bytes_received": 0, "seconds": 0.0}
    )
    for entry in rounds:
        for key in server:
            server[key] += entry["server"][key]
        for node, figures in entry["clients"].items():
            for key in ("bytes_sent", "bytes_received", "seconds"):
                clients[node][key] += figures[key] or 0
    return {"server": server, "clients": dict(sorted(clients.items()))}
