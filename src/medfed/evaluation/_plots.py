"""Figures for the HTML report, each rendered to an inline ``<svg>`` string.

Figures are built on ``matplotlib.figure.Figure`` rather than pyplot: there is no global
figure registry and no GUI backend is ever chosen (the effect of the Agg backend, without
switching the process-wide backend under other code), so rendering is safe in threads.
Functions take plain arrays; reading ``results`` dicts is the report's job.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from medfed.evaluation._format import human_bytes

# Fixed colours per model so that every plot of the report agrees; others cycle tab10.
_MODEL_COLORS = {"federated": "#1f77b4", "centralized": "#ff7f0e"}
_PALETTE = ("#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


def color_for(label: str, index: int) -> str:
    """Colour of a model or party, stable across the report's plots."""
    return _MODEL_COLORS.get(label, _PALETTE[index % len(_PALETTE)])


def roc_svg(curves: Sequence[tuple[str, np.ndarray, np.ndarray, str]]) -> str:
    """ROC curves on one plot. Each entry: ``(label, fpr (M,), tpr (M,), legend suffix)``."""
    fig = Figure(figsize=(5.6, 4.4))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle=":", color="#999999", label="chance")
    for i, (label, fpr, tpr, suffix) in enumerate(curves):
        ax.plot(fpr, tpr, color=color_for(label, i), linewidth=2, label=_plain(f"{label} {suffix}"))
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="False positive rate", ylabel="True positive rate")
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    return _svg(fig, "roc")


def ks_svg(
    label: str,
    index: int,
    thresholds: np.ndarray,
    tpr: np.ndarray,
    fpr: np.ndarray,
    gap_at: float,
) -> str:
    """Cumulative score distributions of positives and negatives, the KS gap marked.

    ``tpr``/``fpr`` (M,) are the shares at or above each threshold (see ``ks_curve``);
    ``gap_at`` is a threshold among ``thresholds`` where ``tpr - fpr`` is largest.
    """
    cdf_pos, cdf_neg = 1.0 - tpr, 1.0 - fpr
    j = int(np.argmin(np.abs(thresholds - gap_at)))
    gap = float(tpr[j] - fpr[j])
    fig = Figure(figsize=(5.0, 3.6))
    ax = fig.add_subplot()
    ax.plot(thresholds, cdf_neg, color="#555555", linewidth=2, label="negatives")
    ax.plot(thresholds, cdf_pos, color=color_for(label, index), linewidth=2, label="positives")
    ax.vlines(gap_at, cdf_pos[j], cdf_neg[j], colors="#d62728", linewidth=2, linestyles="--")
    ax.annotate(
        f"KS = {gap:.3f}",
        xy=(gap_at, (cdf_pos[j] + cdf_neg[j]) / 2),
        xytext=(8, 0),
        textcoords="offset points",
        color="#d62728",
        va="center",
    )
    ax.set(ylim=(0, 1.01), xlabel="Score threshold", ylabel="Share scoring below threshold")
    ax.set_title(_plain(label), fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    return _svg(fig, f"ks-{index}")


def ks_bars_svg(per_model: Sequence[tuple[str, np.ndarray]]) -> str:
    """Multi-class KS: grouped bars of each class's one-vs-rest KS (K,) per model,
    with the macro mean as a dashed line; undefined classes (nan) are left blank."""
    fig = Figure(figsize=(7.0, 3.6))
    ax = fig.add_subplot()
    n_classes = max((len(v) for _, v in per_model), default=0)
    x = np.arange(n_classes)
    width = 0.8 / max(len(per_model), 1)
    for i, (label, values) in enumerate(per_model):
        color = color_for(label, i)
        ax.bar(x - 0.4 + width * (i + 0.5), values, width, color=color, label=_plain(label))
        if np.any(~np.isnan(values)):
            ax.axhline(float(np.nanmean(values)), color=color, linestyle="--", linewidth=1)
    ax.set_xticks(x, [str(k) for k in x])
    ax.set(ylim=(0, 1.01), xlabel="Class (one vs rest)", ylabel="KS  (dashed: macro mean)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=9)
    return _svg(fig, "ks-classes")


def rounds_svg(
    rounds: np.ndarray, train_loss: np.ndarray, val_auc: np.ndarray, val_accuracy: np.ndarray
) -> str:
    """Per-round training loss (left) and validation AUC/accuracy (right); all (R,),
    ``nan`` where a round did not record the figure."""
    fig = Figure(figsize=(9.0, 3.4))
    loss_ax, val_ax = fig.subplots(1, 2)
    _line_or_note(loss_ax, rounds, [("train loss", train_loss, "#1f77b4")])
    loss_ax.set(xlabel="Round", ylabel="Training loss")
    _line_or_note(
        val_ax,
        rounds,
        [("val AUC", val_auc, "#2ca02c"), ("val accuracy", val_accuracy, "#9467bd")],
    )
    val_ax.set(xlabel="Round", ylabel="Validation score")
    for ax in (loss_ax, val_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # rounds are whole numbers
    fig.tight_layout()
    return _svg(fig, "rounds")


def traffic_svg(
    rounds: Sequence[int], parties: Sequence[str], sent: np.ndarray, received: np.ndarray
) -> str:
    """Bytes per round and party: one bar per party in each round, sent stacked under
    received. ``sent``/``received`` are (P, R) for P = len(parties), R = len(rounds)."""
    fig = Figure(figsize=(9.0, 3.8))
    ax = fig.add_subplot()
    x = np.arange(len(rounds))
    width = 0.8 / max(len(parties), 1)
    handles = []
    for i, party in enumerate(parties):
        color = "#333333" if i == 0 else _PALETTE[(i - 1) % len(_PALETTE)]
        offsets = x - 0.4 + width * (i + 0.5)
        ax.bar(offsets, sent[i], width, color=color)
        ax.bar(offsets, received[i], width, bottom=sent[i], color=color, alpha=0.4)
        handles.append(Patch(color=color, label=_plain(party)))
    handles += [
        Patch(facecolor="#888888", label="sent (solid)"),
        Patch(facecolor="#888888", alpha=0.4, label="received (light)"),
    ]
    step = max(1, math.ceil(len(rounds) / 20))  # keep tick labels legible for long studies
    ax.set_xticks(x[::step], [str(r) for r in list(rounds)[::step]])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: human_bytes(v)))
    ax.set(xlabel="Round", ylabel="Bytes")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _svg(fig, "traffic")


def _line_or_note(ax: Axes, x: np.ndarray, series: list[tuple[str, np.ndarray, str]]) -> None:
    drawn = False
    for label, y, color in series:
        if np.any(~np.isnan(y)):
            ax.plot(x, y, marker="o", markersize=3, color=color, label=label)
            drawn = True
    if drawn:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    else:
        ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes)


def _plain(text: str) -> str:
    """Show ``$`` literally: matplotlib would otherwise parse names as mathtext."""
    return text.replace("$", r"\$")


def _svg(fig: Figure, name: str) -> str:
    buf = io.StringIO()
    # Text stays text (smaller, searchable); a per-figure salt keeps the clip-path ids of
    # several figures inlined in one page distinct; no date keeps the output reproducible.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"medfed-{name}"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg") :]
