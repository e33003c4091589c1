"""The report's goals section (standard 5.2a-e, 5.6b): the question, every success criterion
with its measured value and verdict, the enforced privacy goals, the data requirements and
the sharing agreement."""

from __future__ import annotations

from typing import Any

from medfed.evaluation import _format
from medfed.evaluation._html import Cell, e, note, table

# What each grant name releases, in words for the reader of the report.
_RELEASE_WORDS = {
    "model": "the trained model",
    "metrics": "test metrics and the goal verdicts",
    "rounds": "per-round training figures",
    "privacy": "privacy accounting",
    "dataset": "per-hospital counts",
    "config": "the configuration",
    "report": "this report",
}


def verdict_cell(passed: Any) -> Cell:
    if passed is None:
        return Cell("n/a", "na")
    return Cell("PASS" if passed else "FAIL", "pass" if passed else "fail")


def criteria_table(goals: dict[str, Any]) -> str:
    verdicts = [v for v in goals.get("criteria") or [] if isinstance(v, dict)]
    if not verdicts:
        return note("No success criteria were declared for this study.")
    rows: list[list[str | Cell]] = [
        [str(v.get("criterion", "")), _format.fixed(v.get("measured")), verdict_cell(v.get("passed")),
         str(v.get("reason", ""))]
        for v in verdicts
    ]
    overall = goals.get("passed")
    foot: list[str | Cell] = [Cell("All criteria", "label"), "", verdict_cell(overall), ""]
    return table(["Criterion", "Measured", "Verdict", "Note"], rows, foot=foot)


def goals_body(results: dict[str, Any]) -> str:
    goals = results.get("goals")
    raw_study = results.get("study")
    study: dict[str, Any] = raw_study if isinstance(raw_study, dict) else {}
    if not isinstance(goals, dict):
        question = e(study.get("question") or _format.MISSING)
        return f"<p><strong>Question:</strong> {question}</p>" + note("This run recorded no goals section.")
    facts = [
        ("Research direction", goals.get("direction") or _format.MISSING),
        ("Medical question", goals.get("question") or study.get("question") or _format.MISSING),
    ]
    facts_html = "<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts) + "</dl>"
    return (
        facts_html
        + "<h3>Success criteria (checked automatically at the end)</h3>"
        + criteria_table(goals)
        + "<h3>Privacy goals (enforced before training)</h3>"
        + _privacy(goals.get("privacy") or {})
        + "<h3>Data requirements</h3>"
        + _data(goals.get("data") or {})
        + "<h3>Data-sharing agreement</h3>"
        + sharing_table(goals.get("sharing") or {})
    )


def _privacy(p: dict[str, Any]) -> str:
    cap = p.get("max_epsilon")
    planned = p.get("planned_epsilon")
    rows = [
        ["de-identified data required", "yes" if p.get("deidentified_required") else "no"],
        ["data marked de-identified", _yes_no(p.get("deidentified"))],
        ["ε cap (max_epsilon)", _format.MISSING if cap is None else f"{cap:g}"],
        ["planned ε (largest hospital)", "unbounded (no DP)" if planned is None else _format.fixed(planned)],
        ["required mechanisms", ", ".join(p.get("require") or []) or "none"],
        ["mechanisms in use", ", ".join(p.get("mechanisms") or []) or "none"],
        ["limits on use", p.get("limits") or _format.MISSING],
        ["enforced before training", _yes_no(p.get("enforced"))],
    ]
    return table(["Goal", "Value"], rows)


def _data(d: dict[str, Any]) -> str:
    rows = [
        ["modality required", d.get("modality") or "any"],
        ["dataset modality", d.get("dataset_modality") or _format.MISSING],
        ["minimum records per class and hospital", str(d.get("min_per_class", 0))],
        ["small-cell threshold (never shown below)", str(d.get("min_cell", _format.MISSING))],
        ["sources", d.get("sources") or _format.MISSING],
        ["checked against the partition", _yes_no(d.get("checked"))],
    ]
    return table(["Requirement", "Value"], rows)


def sharing_table(sharing: dict[str, Any]) -> str:
    if not sharing:
        return note("No sharing agreement declared: the run folder stays with the task initiator.")
    rows = [
        [str(party), ", ".join(_RELEASE_WORDS.get(str(i), str(i)) for i in items or []) or "nothing"]
        for party, items in sharing.items()
    ]
    return table(["Party", "May receive"], rows) + note(
        "Each party's release (releases/<party>/) holds only the results.json sections it is granted."
    )


def _yes_no(value: Any) -> str:
    return _format.MISSING if value is None else ("yes" if value else "no")
