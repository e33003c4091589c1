"""The model-iteration section (standard 5.7.3.5): cross-validation folds or search trials,
each with its train-vs-validation curves per round and its under/over-fitting diagnosis."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from medfed.evaluation import _format
from medfed.evaluation._html import Cell, figure, note, section, table
from medfed.evaluation._plots import _line_or_note, _svg

_FIT_CLASS = {"good fit": "pass", "over-fitting": "fail", "under-fitting": "fail"}


def _series(rounds: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([_format.number(r.get(key)) if _format.number(r.get(key)) is not None else np.nan for r in rounds])


def fit_curves_svg(label: str, index: int, rounds: list[dict[str, Any]]) -> str:
    """Training vs validation loss (left) and accuracy / AUC (right) per round of one run."""
    x = np.array([r.get("round", i + 1) for i, r in enumerate(rounds)], dtype=float)
    fig = Figure(figsize=(9.0, 3.0))
    loss_ax, score_ax = fig.subplots(1, 2)
    _line_or_note(loss_ax, x, [
        ("train loss", _series(rounds, "train_loss"), "#1f77b4"),
        ("validation loss", _series(rounds, "val_loss"), "#d62728"),
    ])
    loss_ax.set(xlabel="Round", ylabel="Loss")
    _line_or_note(score_ax, x, [
        ("train accuracy", _series(rounds, "train_accuracy"), "#1f77b4"),
        ("validation accuracy", _series(rounds, "val_accuracy"), "#d62728"),
        ("validation AUC", _series(rounds, "val_auc"), "#2ca02c"),
    ])
    score_ax.set(xlabel="Round", ylabel="Score")
    for ax in (loss_ax, score_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(label.replace("$", r"\$"), fontsize=10)
    fig.tight_layout()
    return _svg(fig, f"fit-{index}")


def iteration_section(iteration: dict[str, Any]) -> str:
    """Summary table, the selection (search) or fold mean (CV), and one curve plot per run."""
    runs = [r for r in iteration.get("runs") or [] if isinstance(r, dict)]
    if not runs:
        return section("iteration", "Model iteration", note("No folds or trials were run."))
    kind = iteration.get("kind")
    title = "Federated cross-validation" if kind == "cv" else "Hyper-parameter search"
    rows: list[list[str | Cell]] = []
    for r in runs:
        final, fit = r.get("final") or {}, r.get("diagnosis") or {}
        verdict = str(fit.get("fit", _format.MISSING))
        rows.append([
            str(r.get("label", "")),
            _format.fixed(final.get("train_auc")), _format.fixed(final.get("val_auc")),
            _format.fixed(final.get("train_loss")), _format.fixed(final.get("val_loss")),
            Cell(verdict, _FIT_CLASS.get(verdict, "na")), str(fit.get("why", "")),
            _format.seconds(r.get("seconds")), _format.human_bytes(r.get("bytes")),
        ])
    head = ["Run", "Train AUC", "Validation AUC", "Train loss", "Validation loss", "Fit", "Why", "Time", "Traffic"]
    body = table(head, rows) + _summary(kind, iteration.get("summary") or {}, runs)
    plots = "".join(
        figure(fit_curves_svg(str(r.get("label", "")), i, list(r.get("rounds") or [])),
               f"{r.get('label', '')}: train vs validation per round")
        for i, r in enumerate(runs)
    )
    explain = note(
        "Curves are the hospitals' weighted means per round; final scores are the global model's, "
        "each hospital scoring its own split. Validation loss rising while training loss falls, "
        "or a train AUC well above the validation AUC, signals over-fitting; a low train AUC "
        "signals under-fitting."
    )
    return section("iteration", title, body + explain + f'<div class="grid">{plots}</div>')


def _summary(kind: Any, summary: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    if kind == "cv":
        return note(
            f"Validation AUC over {len(runs)} folds: mean {_format.fixed(summary.get('mean_val_auc'))}, "
            f"standard deviation {_format.fixed(summary.get('std_val_auc'))}."
        )
    chosen = summary.get("chosen")
    label = runs[chosen].get("label", "") if isinstance(chosen, int) and 0 <= chosen < len(runs) else "—"
    if summary.get("mechanism") == "exponential":
        how = (
            f"Selected privately by the exponential mechanism (ε = {summary.get('epsilon')}, utility = "
            f"federated validation AUC, sensitivity {_format.fixed(summary.get('sensitivity'), 5)} per "
            f"replaced validation record): {label}. The best score was run "
            f"{(summary.get('best_by_score') or 0) + 1}."
        )
    else:
        how = f"Selected by the best federated validation AUC: {label}."
    return note(how)
