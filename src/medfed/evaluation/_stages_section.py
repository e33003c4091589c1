"""The six stages of the standard's workflow (5.1, 5.6c): goals → data → modeling →
evaluation → presentation → deployment. The report is laid out as these stages, each
opening with what was done and whether it succeeded."""

from __future__ import annotations

from typing import Any

from medfed.evaluation import _format
from medfed.evaluation._html import Cell, e, table

STAGES = (
    ("goals", "Goal setting"),
    ("data", "Data preparation"),
    ("modeling", "Joint modeling"),
    ("evaluation", "Evaluation"),
    ("presentation", "Result presentation"),
    ("deployment", "Deployment"),
)


def stage(index: int, lead: str, body: str) -> str:
    """Stage ``index`` (0-based in :data:`STAGES`) as a section: heading, lead, content."""
    anchor, title = STAGES[index]
    return (
        f'<section class="stage" id="stage-{e(anchor)}"><h2>Stage {index + 1} · {e(title)}</h2>'
        f'<p class="lead">{e(lead)}</p>{body}</section>'
    )


def stage_leads(results: dict[str, Any]) -> list[str]:
    """One sentence per stage saying what this run did there."""
    goals = _dict(results.get("goals"))
    verdicts = [v for v in goals.get("criteria") or [] if isinstance(v, dict)]
    met = sum(1 for v in verdicts if v.get("passed"))
    dataset = _dict(results.get("dataset"))
    hospitals = _dict(dataset.get("hospitals"))
    rounds = results.get("rounds") or []
    privacy = _dict(results.get("privacy"))
    return [
        f"The study states its question, {len(verdicts)} success criteria and its privacy goals; "
        "the privacy goals and data requirements were enforced before any training.",
        f"{len(hospitals)} hospitals each hold their own share of {dataset.get('flag', 'the dataset')}; "
        "only counts per class leave a hospital.",
        f"{len(rounds)} federated rounds with {privacy.get('mechanism', 'no')} differential privacy"
        f"{' and secure aggregation' if privacy.get('secure_aggregation') else ''}; raw data never left a hospital.",
        "The federated model is compared with a centrally trained one on the result party's test split.",
        f"{met} of {len(verdicts)} success criteria met. This page holds aggregates only and follows "
        "the sharing agreement.",
        "The trained model is released to the parties the sharing agreement names, for packaging and serving.",
    ]


def stages_overview(results: dict[str, Any]) -> str:
    """A table of the six stages with a link to each and its outcome."""
    goals = _dict(results.get("goals"))
    passed = goals.get("passed") if goals.get("criteria") else None
    outcome = [
        Cell("enforced", "pass") if _dict(goals.get("privacy")).get("enforced") else Cell("not recorded", "na"),
        Cell("checked", "pass") if _dict(goals.get("data")).get("checked") else Cell(_format.MISSING, "na"),
        Cell(f"{len(results.get('rounds') or [])} rounds", ""),
        Cell("compared", "") if results.get("federated") else Cell(_format.MISSING, "na"),
        Cell("criteria met", "pass") if passed else (Cell("criteria not met", "fail") if passed is False else Cell("no criteria", "na")),
        Cell("model.safetensors", ""),
    ]
    rows: list[list[str | Cell]] = [[f"{i + 1}. {title}", outcome[i]] for i, (_, title) in enumerate(STAGES)]
    links = " → ".join(f'<a href="#stage-{a}">{e(t)}</a>' for a, t in STAGES)
    return (
        '<section id="workflow"><h2>Workflow</h2>'
        f"<p>{links}</p>{table(['Stage', 'Outcome'], rows)}</section>"
    )


def presentation_body(results: dict[str, Any]) -> str:
    return (
        "<ul><li>De-identified: metrics, counts and curves only; no image, record identifier or "
        "individual prediction appears here (5.6a).</li>"
        "<li>Matched to the goal: every success criterion of stage 1 is judged above (5.6b).</li>"
        "<li>Steps shown: this page follows the six stages of the workflow (5.6c).</li></ul>"
    )


def deployment_body(results: dict[str, Any]) -> str:
    sharing = _dict(_dict(results.get("goals")).get("sharing"))
    receivers = [p for p, items in sharing.items() if "model" in (items or [])]
    who = ", ".join(receivers) if receivers else "the task initiator (no sharing agreement declared)"
    return (
        f"<p>The federated model is saved as <code>model.safetensors</code> in the run folder and "
        f"released to: {e(who)}. It can be exported to ONNX, quantised and packaged with its "
        "pre-processing for cloud or edge inference (5.7).</p>"
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
