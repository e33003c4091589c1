"""The "Malicious-party evaluation" section (standard 5.5.1.1e), from ``medfed evaluate security``.

Reads the evaluation's JSON dict: model-level trials (AUC under attack, plain FedAvg against the
robust option, screen detection) and protocol-level trials (integrity-check detection).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from medfed.evaluation._html import Cell, e, figure, note, section, table
from medfed.evaluation._plots import _svg, color_for

AUC_TOLERANCE = 0.03  # |ΔAUC| the robust option must keep against the clean run
DETECTION_TARGET = 0.95


def _pct(value: Any) -> str:
    return "—" if value is None else f"{100 * float(value):.1f} %"


def _num(value: Any, digits: int = 4) -> str:
    return "—" if value is None else f"{float(value):.{digits}f}"


def _auc_svg(model: dict[str, Any]) -> str:
    """Final AUC against the malicious fraction, one panel line pair per behaviour."""
    fig = Figure(figsize=(7.5, 3.8))
    ax = fig.add_subplot()
    clean = model["clean"]["fedavg"]["auc"]
    behaviours = sorted({t["behaviour"] for t in model["trials"]})
    for i, behaviour in enumerate(behaviours):
        rows = sorted((t for t in model["trials"] if t["behaviour"] == behaviour), key=lambda t: t["fraction"])
        x = np.array([0.0] + [t["fraction"] for t in rows])
        color = color_for(behaviour, i)
        ax.plot(x, [clean] + [t["fedavg"]["auc"] for t in rows], "--o", color=color, markersize=3,
                label=f"{behaviour}: FedAvg")
        ax.plot(x, [model["clean"]["robust"]["auc"]] + [t["robust"]["auc"] for t in rows], "-s", color=color,
                markersize=3, label=f"{behaviour}: robust")
    ax.axhspan(clean - AUC_TOLERANCE, clean + AUC_TOLERANCE, color="#2ca02c", alpha=0.1, label="clean ± 0.03")
    ax.set(xlabel="Fraction of malicious hospitals", ylabel="Test AUC", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return _svg(fig, "security-auc")


def _model_html(model: dict[str, Any]) -> str:
    clean = model["clean"]
    rows: list[list[str | Cell]] = [["none (clean)", "0", _num(clean["fedavg"]["auc"]), _num(clean["robust"]["auc"]), "—", "—",
             "—", _pct(clean["robust"].get("false_positive_rate"))]]
    for t in model["trials"]:
        robust = t["robust"]
        held = abs(t["delta_auc_robust"]) <= AUC_TOLERANCE
        rows.append([
            t["behaviour"],
            f"{len(t['adversaries'])} ({t['fraction']:.0%})",
            _num(t["fedavg"]["auc"]),
            _num(robust["auc"]),
            _num(t["delta_auc_fedavg"]),
            Cell(_num(t["delta_auc_robust"]), "pass" if held else "fail"),
            _pct(robust.get("detection_rate")),
            _pct(robust.get("false_positive_rate")),
        ])
    head = ["Behaviour", "Malicious", "AUC FedAvg", "AUC robust", "ΔAUC FedAvg", "ΔAUC robust",
            "Detected", "False positives"]
    text = (
        f"{model['hospitals']} hospitals, {model['dataset']}, model {model['model']}, {model['rounds']} rounds. "
        f"Robust option: updates farther than {model['screen_factor']:g}× the median distance from the "
        f"coordinate-wise median are named and excluded, the rest aggregated with {model['robust_rule']}. "
        "ΔAUC against the clean FedAvg run; detection and false positives per (round, hospital) "
        "against the injected ground truth."
    )
    return note(text) + table(head, rows) + figure(_auc_svg(model), "Final test AUC under attack")


def _protocol_html(rows: list[dict[str, Any]]) -> str:
    body: list[list[str | Cell]] = []
    for r in rows:
        caught = r.get("caught_rate")
        body.append([
            r["target"],
            f"{len(r['adversaries'])} ({r['fraction']:.0%})",
            str(r["injected"]),
            _pct(r.get("detection_rate")),
            Cell(_pct(caught), "" if caught is None else "pass" if caught >= DETECTION_TARGET else "fail"),
            _pct(r.get("false_positive_rate")),
            f"{r['rounds_correct']}/{r['rounds']}",
            str(r["rounds_aborted"] + r["sums_refused_at_decryption"]),
        ])
    head = ["Protocol value replaced", "Malicious", "Faults injected", "Named", "Caught",
            "False positives", "Rounds with a correct aggregate", "Rounds stopped"]
    text = (
        "Shares: Shamir share values replaced by random field elements, found by the share-consistency "
        "check (named and excluded up to ⌊(k − t)/2⌋ per secret, beyond that the round is aborted). "
        "Masked: masked ring words replaced; no integrity check covers them yet, so the aggregate is wrong. "
        "Dropout: a node stops answering at a stage; the round continues. Replay: a node resends its "
        "shares of an earlier round (stale), found by the same consistency check. Paillier / CKKS / BFV: "
        "ciphertext chunks replaced by random values of the ciphertext's type; TenSEAL chunks fail "
        "deserialisation at the aggregator (named, excluded), a random Paillier value is a well-formed "
        "ciphertext, caught only when the key holder range-checks the decrypted sum (round discarded, "
        "nobody named). Vertical: the host replaces a masked gradient value with a random ciphertext; the "
        "arbiter finds it outside the masking window and names the host, and the study stops (a vertical "
        "study cannot go on without a party's features). Caught = named, or stopped before a wrong "
        "aggregate was used."
    )
    return note(text) + table(head, body)


def security_section(evaluation: dict[str, Any]) -> str:
    """The section's HTML; empty when ``evaluation`` holds no trials."""
    model = evaluation.get("model")
    protocol = evaluation.get("protocol") or []
    if not model and not protocol:
        return ""
    parts = [note(f"Study {evaluation.get('study', '')}: fault injection per standard 5.5.1.1e; "
                  f"{_num(evaluation.get('seconds'), 1)} s in total.")]
    if model:
        parts.append("<h3>Model level: does the model survive?</h3>" + _model_html(model))
    if protocol:
        parts.append("<h3>Protocol level: are the faults caught?</h3>" + _protocol_html(protocol))
    return section("malicious-party-evaluation", "Malicious-party evaluation", "".join(parts))


def security_page(evaluation: dict[str, Any]) -> str:
    """A standalone HTML page holding the section."""
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 8px}.pass{background:#dfd}.fail{background:#fdd}"
             ".note{color:#444}")
    title = e(f"Malicious-party evaluation — {evaluation.get('study', '')}")
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{style}</style></head><body>{security_section(evaluation)}</body></html>")
