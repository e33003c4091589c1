"""Report sections drawn from the per-round log: learning curves and communication cost
(Appendix A.3: bytes sent and received by the server and each client, per round)."""

from __future__ import annotations

from typing import Any

import numpy as np

from medfed.evaluation import _format, _plots
from medfed.evaluation._html import Cell, e, figure, note, section, table


def rounds_section(results: dict[str, Any]) -> str:
    """Training loss and validation AUC/accuracy per round."""
    rounds = _rounds(results)
    if not rounds:
        return section("rounds", "Per-round metrics", note("No rounds were recorded."))
    metrics = [_dict(r.get("metrics")) for r in rounds]
    svg = _plots.rounds_svg(
        _round_numbers(rounds),
        _series(metrics, "train_loss"),
        _series(metrics, "val_auc"),
        _series(metrics, "val_accuracy"),
    )
    caption = "Training loss and validation scores per round, as recorded by the run."
    return section("rounds", "Per-round metrics", figure(svg, caption))


def traffic_section(results: dict[str, Any]) -> str:
    """Bytes per round for the server and each client, as a bar chart and a table."""
    rounds = _rounds(results)
    if not rounds:
        return section("traffic", "Communication", note("No rounds were recorded."))
    clients = sorted({name for r in rounds for name in _dict(r.get("clients"))})
    parties: list[str | None] = [None, *clients]  # None: the server, whatever clients are named
    links = [[_link(r, party) for r in rounds] for party in parties]
    sent = np.array([[_bytes(link, "bytes_sent") for link in row] for row in links])
    received = np.array([[_bytes(link, "bytes_received") for link in row] for row in links])
    numbers = [int(n) for n in _round_numbers(rounds)]
    svg = _plots.traffic_svg(numbers, ["server", *clients], sent, received)
    caption = "Bytes per round: one bar per party, sent (solid) under received (light)."
    return section(
        "traffic", "Communication", figure(svg, caption) + _traffic_table(results, rounds, clients)
    )


def _traffic_table(
    results: dict[str, Any], rounds: list[dict[str, Any]], clients: list[str]
) -> str:
    spans = "".join(f'<th colspan="2">{e(name)}</th>' for name in ["server", *clients])
    pairs = "<th>sent</th><th>received</th>" * (len(clients) + 1)
    head_html = (
        f'<tr><th rowspan="2">Round</th><th rowspan="2">Time</th>{spans}'
        f'<th rowspan="2">Throughput</th></tr><tr>{pairs}</tr>'
    )
    rows = []
    for number, r in zip(_round_numbers(rounds), rounds, strict=True):
        server = _dict(r.get("server"))
        row: list[str | Cell] = [str(int(number)), _format.seconds(r.get("seconds"))]
        for party in [None, *clients]:
            link = _link(r, party)
            row += [
                _format.human_bytes(link.get("bytes_sent")),
                _format.human_bytes(link.get("bytes_received")),
            ]
        recorded = _format.number(server.get("throughput_mb_s"))
        row.append(_throughput(server, _format.number(r.get("seconds")), recorded))
        rows.append(row)
    return table([], rows, head_html=head_html, foot=_totals_row(results, rounds, clients))


def _totals_row(
    results: dict[str, Any], rounds: list[dict[str, Any]], clients: list[str]
) -> list[str | Cell]:
    """Totals as recorded in ``results["totals"]``, else summed over the rounds."""
    recorded = _dict(results.get("totals"))
    seconds = sum(_format.number(r.get("seconds")) or 0.0 for r in rounds)
    row: list[str | Cell] = [Cell("Total", "label"), _format.seconds(seconds)]
    server: dict[str, Any] = {}
    for party in [None, *clients]:
        if party is None:
            total = _dict(recorded.get("server"))
        else:
            total = _dict(_dict(recorded.get("clients")).get(party))
        for key in ("bytes_sent", "bytes_received"):
            value = total.get(key)
            if _format.number(value) is None:
                value = sum(_bytes(_link(r, party), key) for r in rounds)
            row.append(_format.human_bytes(value))
            if party is None:
                server[key] = value
    row.append(_throughput(server, seconds, None))
    return row


def _throughput(server: dict[str, Any], seconds: float | None, recorded: float | None) -> str:
    """Server bytes both ways per second of round time, in MB/s (decimal)."""
    if recorded is None and seconds:
        recorded = (_bytes(server, "bytes_sent") + _bytes(server, "bytes_received")) / 1e6 / seconds
    return _format.MISSING if recorded is None else f"{recorded:.2f} MB/s"


def _rounds(results: dict[str, Any]) -> list[dict[str, Any]]:
    value = results.get("rounds")
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []


def _round_numbers(rounds: list[dict[str, Any]]) -> np.ndarray:
    """Recorded round numbers, or positions counted from 1 where one is missing."""
    numbers = [_format.number(r.get("round")) for r in rounds]
    return np.array(
        [n if _format.is_real(n) else i + 1 for i, n in enumerate(numbers)], dtype=float
    )


def _series(entries: list[dict[str, Any]], key: str) -> np.ndarray:
    values = [_format.number(entry.get(key)) for entry in entries]
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _link(round_entry: dict[str, Any], party: str | None) -> dict[str, Any]:
    """Traffic of the server (``party`` None) or of one client in one round."""
    if party is None:
        return _dict(round_entry.get("server"))
    return _dict(_dict(round_entry.get("clients")).get(party))


def _bytes(link: dict[str, Any], key: str) -> float:
    value = _format.number(link.get(key))
    return value if value is not None and _format.is_real(value) else 0.0


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
