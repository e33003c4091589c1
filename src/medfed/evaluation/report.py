"""One self-contained HTML page comparing the federated model with the central one.

The page has no external assets (styles inline, plots inline SVG, no script), so it can be
mailed or archived as a single file. It is de-identified by construction (clause 5.6a):
it shows only aggregates — metrics, counts, byte totals — and curves; test-set
predictions are used to draw the curves but no individual prediction, image or record
identifier is written. All text from ``results`` is HTML-escaped.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from medfed.evaluation import _format
from medfed.evaluation._curve_sections import curve_sections
from medfed.evaluation._goals_section import goals_body
from medfed.evaluation._html import Cell, e, note, section, table
from medfed.evaluation._iteration_section import iteration_section
from medfed.evaluation._privacy_section import privacy_section
from medfed.evaluation._round_sections import rounds_section, traffic_section
from medfed.evaluation._stages_section import (
    deployment_body,
    presentation_body,
    stage,
    stage_leads,
    stages_overview,
)
from medfed.evaluation.table import (
    METRICS,
    STANDARD_BAR,
    STANDARD_METRICS,
    TARGETS,
    comparison_rows,
    meets_standard,
    meets_target,
    metric_delta,
)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;
color:#222;padding:0 1rem;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
.question{font-size:1.1rem;color:#444;margin-top:0}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}
th,td{border:1px solid #ddd;padding:.3rem .6rem;text-align:right}
th{background:#f4f6f8}td:first-child,th:first-child{text-align:left}
tfoot td{font-weight:600;background:#fafafa}
.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}.na{color:#888}
dl{display:grid;grid-template-columns:max-content auto;gap:.15rem 1rem}dt{font-weight:600}dd{margin:0}
figure{margin:.6rem 0}figcaption{font-size:.85rem;color:#555}
svg{max-width:100%;height:auto}
.grid{display:flex;flex-wrap:wrap;gap:1rem}.note{color:#666;font-style:italic}
footer{margin-top:2rem;font-size:.85rem;color:#666}
.stage{border-left:4px solid #d0d7de;padding-left:1rem;margin-top:2.5rem}.lead{color:#444}
"""


def render_report(
    results: dict[str, Any], curves: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> str:
    """The report as an HTML string.

    ``results`` is the run summary written by the demo (study, dataset, parties, config,
    federated/centralized metrics, delta, rounds, totals); any optional key may be missing
    and shows as a dash or a note. ``curves`` maps a model label (e.g. "federated",
    "centralized") to ``(y_true (N,), proba (N, K))`` on the common test set. Raises
    ``DataError`` when those arrays are malformed.
    """
    study = _dict(results.get("study"))
    title = f"medfed report — {study.get('id', 'study')}"
    leads = stage_leads(results)
    iteration = results.get("iteration")
    stages = [
        goals_body(results),
        _hospitals(results),
        "".join([_config(results), rounds_section(results), traffic_section(results), privacy_section(results)]),
        "".join([
            _comparison(results), curve_sections(curves),
            iteration_section(iteration) if isinstance(iteration, dict) else "",
        ]),
        presentation_body(results),
        deployment_body(results),
    ]
    body = _header(results) + stages_overview(results) + "".join(
        stage(i, lead, content) for i, (lead, content) in enumerate(zip(leads, stages, strict=True))
    )
    footer = (
        "<footer>Aggregates only: this page holds metrics, counts and curves, and no "
        "individual prediction, image or record identifier. Produced by medfed.</footer>"
    )
    return page(title, body + footer)


def page(title: str, body: str) -> str:
    """A complete, self-contained HTML document with the report's styles."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{_CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def render_iteration_report(iteration: dict[str, Any]) -> str:
    """The model-iteration page: folds or trials, the selection, curves per run (5.7.3.5)."""
    study = _dict(iteration.get("study"))
    title = f"medfed model iteration — {study.get('id', 'study')}"
    header = f"<header><h1>{e(title)}</h1><p class=\"question\">{e(study.get('question', ''))}</p></header>"
    return page(title, header + iteration_section(iteration))


def write_iteration_report(path: str | os.PathLike[str], iteration: dict[str, Any]) -> Path:
    """Render :func:`render_iteration_report` to ``path`` (UTF-8), creating parent folders."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_iteration_report(iteration), encoding="utf-8")
    return target


def write_report(
    path: str | os.PathLike[str],
    results: dict[str, Any],
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
) -> Path:
    """Render the report and write it to ``path`` (UTF-8), creating parent folders."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_report(results, curves), encoding="utf-8")
    return target


def _header(results: dict[str, Any]) -> str:
    study = _dict(results.get("study"))
    dataset = _dict(results.get("dataset"))
    partition = str(dataset.get("partition", _format.MISSING))
    alpha = _format.number(dataset.get("alpha"))
    if alpha is not None and partition.lower() != "iid":
        partition += f" (α = {alpha:g})"
    facts = [
        ("Dataset", dataset.get("flag", _format.MISSING)),
        ("Images", _format.count(dataset.get("size"))),
        ("Classes", _format.count(dataset.get("n_classes"))),
        ("Partition", partition),
        ("Mode", results.get("mode", _format.MISSING)),
        ("Wall time", _format.seconds(results.get("wall_seconds"))),
    ]
    best = _format.number(_dict(results.get("repeats")).get("best_seconds"))
    if best is not None:
        facts.append(("Best repeat", _format.seconds(best)))
    facts_html = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts)
    parties = [p for p in results.get("parties") or [] if isinstance(p, dict)]
    parties_html = (
        table(
            ["Party", "Role"], [[str(p.get("name", "")), str(p.get("role", ""))] for p in parties]
        )
        if parties
        else note("No parties recorded.")
    )
    return (
        f"<header><h1>Federated vs centralized — {e(study.get('id', _format.MISSING))}</h1>"
        f'<p class="question">{e(study.get("question", ""))}</p>'
        f"<dl>{facts_html}</dl><h3>Parties</h3>{parties_html}</header>"
    )


def _comparison(results: dict[str, Any]) -> str:
    head = [
        "Metric",
        "Federated",
        "Centralized",
        "|Δ|",
        f"Standard (|Δ| < {STANDARD_BAR:g})",
        "Target",
    ]
    rows: list[list[str | Cell]] = []
    for i, text in enumerate(comparison_rows(results)):
        if i >= len(METRICS):  # training time: no bar to meet
            rows.append([*text, Cell(_format.MISSING, "na"), Cell(_format.MISSING, "na")])
            continue
        key = METRICS[i][0]
        delta = metric_delta(results, key)
        standard = (
            _verdict(meets_standard(delta, key), "")
            if key in STANDARD_METRICS
            else Cell(_format.MISSING, "na")
        )
        if key in TARGETS:
            target = _verdict(meets_target(key, delta), f"|Δ| < {TARGETS[key]:g}: ")
        else:
            target = Cell(_format.MISSING, "na")
        rows.append([*text, standard, target])
    explain = note(
        "|Δ| is the distance of the federated model from the centrally trained one on the "
        "same test set (clause 5.5.2-2; AUC and KS per Appendix A.1)."
    )
    return section("comparison", "Federated vs centralized", table(head, rows) + explain)


def _verdict(ok: bool | None, prefix: str) -> Cell:
    if ok is None:
        return Cell(prefix + _format.UNDEFINED, "na")
    return Cell(prefix + ("pass" if ok else "fail"), "pass" if ok else "fail")


def _hospitals(results: dict[str, Any]) -> str:
    """Records per class at each hospital (counts only), small cells suppressed when the
    study's goals set a threshold (5.2d, 5.6a)."""
    hospitals = _dict(_dict(results.get("dataset")).get("hospitals"))
    if not hospitals:
        return section("split", "Data split", note("No per-hospital split recorded."))
    classes = sorted(
        {k for counts in hospitals.values() for k in _dict(counts) if k != "total"},
        key=lambda k: (not k.lstrip("-").isdigit(), int(k) if k.lstrip("-").isdigit() else 0, k),
    )
    min_cell = _format.number(_dict(_dict(results.get("goals")).get("data")).get("min_cell"))
    rows, sums, hidden = [], np.zeros(len(classes) + 1), False
    for name, counts in hospitals.items():
        counts = _dict(counts)
        values = [_format.number(counts.get(c)) or 0.0 for c in classes]
        total = _format.number(counts.get("total"))
        values.append(total if total is not None else sum(values))
        sums += values
        shown = _suppressed(values[:-1], int(min_cell)) if min_cell is not None and min_cell > 1 else None
        hidden = hidden or shown is not None
        rows.append([str(name), *(shown or [_format.count(v) for v in values[:-1]]), _format.count(values[-1])])
    # With a hidden cell, per-class totals would give it back: only the grand total is shown.
    foot_classes = ["—"] * len(classes) if hidden else [_format.count(v) for v in sums[:-1]]
    foot: list[str | Cell] = [Cell("All hospitals", "label"), *foot_classes, _format.count(sums[-1])]
    head = ["Hospital", *(f"class {c}" for c in classes), "Total"]
    explain = note(f"Counts from 1 to {int(min_cell or 0) - 1} are hidden (small-cell suppression).") if hidden else ""
    return section("split", "Data split", table(head, rows, foot=foot) + explain)


def _suppressed(values: list[float], min_cell: int) -> list[str] | None:
    """The row's cells with counts in [1, min_cell) hidden; a lone hidden cell takes the next
    smallest with it, so the row total cannot give it back. ``None`` when nothing is hidden."""
    small = [i for i, v in enumerate(values) if 0 < v < min_cell]
    if not small:
        return None
    cells = [_format.count(v) for v in values]
    for i in small:
        cells[i] = f"<{min_cell}"
    if len(small) == 1:
        others = sorted((v, i) for i, v in enumerate(values) if v >= min_cell)
        if others:
            cells[others[0][1]] = "suppressed"
    return cells


def _config(results: dict[str, Any]) -> str:
    config = _dict(results.get("config"))
    if not config:
        return ""
    rows = [[key, value] for key, value in _flatten(config)]
    return section("config", "Training configuration", table(["Setting", "Value"], rows))


def _flatten(value: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested settings as ``("a.b", "value")`` pairs, in recorded order."""
    pairs: list[tuple[str, str]] = []
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            pairs += _flatten(item, f"{name}.")
        elif isinstance(item, list | tuple):
            pairs.append((name, ", ".join(str(v) for v in item)))
        else:
            pairs.append((name, str(item)))
    return pairs


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
