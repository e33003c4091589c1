"""The standard's Appendix A tables from scenario records: A.1 accuracy, A.2 time, A.3 traffic.

A scenario record (one per scenario, e.g. horizontal and vertical logistic regression)::

    {"scenario": str, "protection": str, "precision": str,
     "joint": {"auc", "ks"}, "local": {"auc", "ks"}, "delta_auc", "delta_ks",
     "runs_seconds": [float, ...], "best_seconds": float,
     "rounds": [{"round", "seconds", "client_sent", "client_received",
                 "server_sent", "server_received"}, ...]}

Bytes are per round: ``client_*`` summed over the clients, ``server_*`` at the dispatcher.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medfed.evaluation._format import fixed, human_bytes, seconds
from medfed.evaluation._html import Cell, e, note, section, table

A1_LIMIT = 0.05  # |ΔAUC| and |ΔKS| below this pass (clause A.1)


def passes(record: dict[str, Any]) -> bool:
    return bool(record["delta_auc"] < A1_LIMIT and record["delta_ks"] < A1_LIMIT)


def a1_rows(records: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Scenario, joint AUC, local AUC, |ΔAUC|, joint KS, local KS, |ΔKS|, verdict."""
    return [
        [
            r["scenario"],
            fixed(r["joint"]["auc"]),
            fixed(r["local"]["auc"]),
            fixed(r["delta_auc"]),
            fixed(r["joint"]["ks"]),
            fixed(r["local"]["ks"]),
            fixed(r["delta_ks"]),
            "pass" if passes(r) else "FAIL",
        ]
        for r in records
    ]


def a2_rows(records: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Scenario, each run's seconds, best."""
    return [
        [r["scenario"], ", ".join(f"{s:.2f}" for s in r["runs_seconds"]), f"{r['best_seconds']:.2f}"]
        for r in records
    ]


def throughput(entry: dict[str, Any]) -> float:
    """Server-side MB/s of one round: bytes in and out over the round's duration."""
    moved = entry["server_sent"] + entry["server_received"]
    return moved / 1e6 / entry["seconds"] if entry["seconds"] > 0 else 0.0


def a3_rows(record: dict[str, Any]) -> list[list[str]]:
    """Per round: client sent/received, server sent/received, latency, throughput; then totals."""
    rows = []
    for entry in record["rounds"]:
        rows.append(
            [
                str(entry["round"]),
                human_bytes(entry["client_sent"]),
                human_bytes(entry["client_received"]),
                human_bytes(entry["server_sent"]),
                human_bytes(entry["server_received"]),
                seconds(entry["seconds"]),
                f"{throughput(entry):.3f} MB/s",
            ]
        )
    total = totals(record)
    rows.append(
        [
            "total",
            human_bytes(total["client_sent"]),
            human_bytes(total["client_received"]),
            human_bytes(total["server_sent"]),
            human_bytes(total["server_received"]),
            seconds(total["seconds"]),
            "",
        ]
    )
    return rows


def totals(record: dict[str, Any]) -> dict[str, float]:
    keys = ("client_sent", "client_received", "server_sent", "server_received", "seconds")
    return {k: float(sum(entry[k] for entry in record["rounds"])) for k in keys}


A1_HEAD = ["scenario", "joint AUC", "local AUC", "|ΔAUC|", "joint KS", "local KS", "|ΔKS|", "A.1 (< 0.05)"]
A2_HEAD = ["scenario", "runs (s)", "best (s)"]
A3_HEAD = ["round", "client sent", "client received", "server sent", "server received", "latency", "throughput"]


def render_html(records: Sequence[dict[str, Any]]) -> str:
    """A self-contained page with the three tables (aggregates only, no records)."""
    a1: list[list[str | Cell]] = [[*row[:-1], Cell(row[-1], "pass" if row[-1] == "pass" else "fail")] for row in a1_rows(records)]
    body = section(
        "a1",
        "A.1 Accuracy: joint model vs local plaintext model",
        table(A1_HEAD, a1)
        + note("Local plaintext model: scikit-learn LogisticRegression on the pooled training rows."),
    )
    body += section("a2", "A.2 Total joint-modeling time (best of the runs)", table(A2_HEAD, a2_rows(records)))
    for r in records:
        body += section(
            f"a3-{r['scenario']}",
            f"A.3 Communication per round — {r['scenario']} ({r['protection']}; precision: {r['precision']})",
            table(A3_HEAD, a3_rows(r)),
        )
    css = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;"
        "text-align:right}.pass{color:#060}.fail{color:#a00;font-weight:bold}.note{color:#555}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e('medfed — Appendix A')}</title><style>{css}</style></head><body>"
        f"<h1>Appendix A: logistic-regression scenario</h1>{body}</body></html>\n"
    )
