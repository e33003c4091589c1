"""Launching tasks from the console (5.4.2.3c): study text in, a checked :class:`TaskSpec` out,
and each task's JSON form for the pages' live refresh."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medfed.core.config import StudyConfig
from medfed.errors import ConfigError
from medfed.orchestration.runs import DEMO_STUDY
from medfed.scheduling import MAX_PRIORITY, Task, TaskSpec, parse_study_text

CUSTOM = "custom"
# The kinds this form can launch: it has no fields for a fold (params.fold, params.k) or for
# the model an evaluation scores (params.model), so those are queued with
# ``medfed task create --kind cv_fold|evaluation --param ...`` instead. A trial from the form
# trains with the study's own hyper-parameters (and the rounds asked for).
FORM_KINDS = ("study", "hp_trial")
_ELSEWHERE = {
    "cv_fold": "medfed task create --kind cv_fold --param fold=0 --param k=5 ...",
    "evaluation": "medfed task create --kind evaluation --param model=PATH/model.safetensors ...",
}
_MAX_STUDY_CHARS = 200_000
_MAX_NAME = 120
# The repository's examples/ when the console runs from a checkout.
_EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "examples"


@dataclass(frozen=True)
class StudyExample:
    key: str
    title: str
    path: Path


def bundled_examples() -> list[StudyExample]:
    """The demo study and every ``examples/*.toml`` next to the package (if present)."""
    found = [StudyExample("demo", "demo study (PneumoniaMNIST, 3 hospitals)", DEMO_STUDY)]
    if _EXAMPLES_DIR.is_dir():
        found += [StudyExample(p.stem, f"examples/{p.name}", p) for p in sorted(_EXAMPLES_DIR.glob("*.toml"))]
    return found


def check_study_text(text: str) -> StudyConfig:
    """The study a form's text describes; ConfigError saying what is wrong otherwise."""
    if len(text) > _MAX_STUDY_CHARS:
        raise ConfigError(f"the study file is longer than {_MAX_STUDY_CHARS} characters")
    return parse_study_text(text)


def _int_field(value: str, what: str, low: int, high: int) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{what} must be a whole number, not {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{what} must be between {low} and {high}, not {number}")
    return number


def build_spec(*, source: str, study_text: str, kind: str, name: str, priority: str, rounds: str) -> TaskSpec:
    """The task a create form asks for: the study from the text (``source == "custom"``) or a
    bundled example, optionally with another number of rounds; every field checked."""
    if kind not in FORM_KINDS:
        hint = f" (queue it with `{_ELSEWHERE[kind]}`)" if kind in _ELSEWHERE else ""
        raise ConfigError(f"this form launches a task of kind {' or '.join(FORM_KINDS)}, not {kind!r}{hint}")
    if source == CUSTOM:
        text = study_text
        if not text.strip():
            raise ConfigError("paste a study file, or choose one of the bundled examples")
    else:
        example = next((e for e in bundled_examples() if e.key == source), None)
        if example is None:
            raise ConfigError(f"unknown example {source!r}")
        text = example.path.read_text(encoding="utf-8")
    study = check_study_text(text)
    level = _int_field(priority, "priority", 0, MAX_PRIORITY) or 0
    new_rounds = _int_field(rounds, "rounds", 1, 10_000)
    # The study text stays as written; the worker applies params.rounds (and checks the result against it).
    params = {"rounds": new_rounds} if new_rounds is not None else {}
    label = name.strip() or study.study_id
    if len(label) > _MAX_NAME:
        raise ConfigError(f"a task name has at most {_MAX_NAME} characters")
    return TaskSpec(kind=kind, name=label, study_toml=text, priority=level, params=params)


def task_json(task: Task, report_url: str | None) -> dict[str, Any]:
    """What the pages show of a task; ``report_url`` once its run folder can be served."""
    return {
        "task_id": task.task_id,
        "name": task.spec.name,
        "kind": task.spec.kind,
        "state": task.state.value,
        "terminal": task.state.terminal,
        "priority": task.spec.priority,
        "node": task.assigned_node,
        "progress": max(0.0, min(1.0, float(task.progress))),
        "submitter": task.submitter,
        "attempts": task.attempts,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "failure": task.failure,
        "report_url": report_url,
    }
