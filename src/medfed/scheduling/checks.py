"""Checks at the two ends of a task: the specification before it is queued (5.4.3.2a) and the
result before it is accepted (5.4.3.2e). Each collects every problem, so one refusal says all."""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Callable
from typing import Any

from medfed.core.config import StudyConfig, parse_study
from medfed.errors import ConfigError
from medfed.roles import Role
from medfed.scheduling.errors import TaskError
from medfed.scheduling.model import KINDS, MAX_PRIORITY, NodeInfo, TaskSpec

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # used with fullmatch: no trailing newline
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Far above any real node, well inside every store's integer column (PostgreSQL INTEGER is 32-bit).
MAX_CAPACITY = 10_000
MAX_LOAD = 10_000.0
# Scores that are shares or probabilities: a value outside [0, 1] means the computation went wrong.
BOUNDED_METRICS = frozenset(
    {"auc", "ks", "accuracy", "val_auc", "val_accuracy", "f1", "precision", "recall", "sensitivity", "specificity"}
)


def is_identifier(value: object) -> bool:
    """A node id, family id or dataset id: letters, digits, '.', '_' or '-', at most 128."""
    return isinstance(value, str) and bool(_NAME.fullmatch(value))


def text_problem(label: str, value: object) -> str | None:
    """Why ``value`` cannot be a stored text (None when it can): a database text holds no NUL."""
    if not isinstance(value, str) or not value.strip():
        return f"{label} must be a non-empty text"
    if "\x00" in value:
        return f"{label} must not contain NUL characters"
    return None


def node_problems(node_id: object, capacity: object, load: object, datasets: object) -> list[str]:
    """Why a heartbeat cannot be recorded (empty when it can)."""
    problems = []
    if not is_identifier(node_id):
        problems.append(f"node id {node_id!r} must be letters, digits, '.', '_' or '-' (at most 128)")
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not 0 <= capacity <= MAX_CAPACITY:
        problems.append(f"capacity must be an integer >= 0 and <= {MAX_CAPACITY} (tasks at once), not {capacity!r}")
    if (
        isinstance(load, bool)
        or not isinstance(load, (int, float))
        or not math.isfinite(load)
        or not 0 <= load <= MAX_LOAD
    ):
        problems.append(f"load must be a finite number >= 0 and <= {MAX_LOAD:g}, not {load!r}")
    if isinstance(datasets, (str, bytes)) or not isinstance(datasets, (list, tuple, set, frozenset)):
        problems.append(f"datasets must be a list of dataset ids, not {datasets!r}")
    else:
        bad = [d for d in datasets if not is_identifier(d)]
        if bad:
            problems.append(f"dataset ids {bad!r} must be letters, digits, '.', '_' or '-'")
    return problems


def parse_study_text(text: str) -> StudyConfig:
    """The study a task carries, validated; a problem is a :class:`ConfigError`."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the study file is not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per nesting level
        raise ConfigError("the study file nests tables or arrays too deeply to read") from None
    try:
        return parse_study(raw)
    except RecursionError:
        raise ConfigError("the study file nests values too deeply to read") from None


def check_spec(spec: TaskSpec, find_node: Callable[[str], NodeInfo | None]) -> StudyConfig:
    """The task's study if ``spec`` can be queued; otherwise :class:`TaskError` listing every problem."""
    problems: list[str] = []
    if spec.kind not in KINDS:
        problems.append(f"kind {spec.kind!r} is unknown; choose one of: {', '.join(KINDS)}")
    name_problem = text_problem("name", spec.name)
    if name_problem:
        problems.append(name_problem)
    if isinstance(spec.priority, bool) or not isinstance(spec.priority, int):
        problems.append(f"priority must be an integer, not {spec.priority!r}")
    elif not 0 <= spec.priority <= MAX_PRIORITY:
        problems.append(f"priority must be in 0..{MAX_PRIORITY} (higher runs first), not {spec.priority}")
    if spec.family is not None and not is_identifier(spec.family):
        problems.append(f"family {spec.family!r} must be letters, digits, '.', '_' or '-'")
    if not isinstance(spec.params, dict) or not _json_able(spec.params):
        problems.append("params must be a JSON object with text keys and finite numbers")
    pin = spec.study_ca_sha256
    if pin is not None and not (isinstance(pin, str) and _SHA256_HEX.fullmatch(pin)):
        problems.append(
            f"study_ca_sha256 {pin!r} must be 64 lower-case hex digits (the SHA-256 of the study CA certificate)"
        )
    study: StudyConfig | None = None
    if not isinstance(spec.study_toml, str) or not spec.study_toml.strip():
        problems.append("the study file is empty")
    elif "\x00" in spec.study_toml:
        problems.append("the study file contains NUL characters")
    else:
        try:
            study = parse_study_text(spec.study_toml)
        except ConfigError as exc:
            problems.append(f"malformed study file: {exc}")
    if study is not None:
        problems += _party_problems(spec, study)
    problems += _param_problems(spec)
    problems += _dataset_problems(spec)
    if spec.bound_to is not None:
        problems += _binding_problems(spec, find_node)
    if problems:
        raise TaskError(f"task {spec.name!r} refused: " + "; ".join(problems))
    assert study is not None
    return study


def _party_problems(spec: TaskSpec, study: StudyConfig) -> list[str]:
    names = {p.name for p in study.parties}
    data_parties = set(study.hospitals)
    problems = []
    unknown = [p for p in spec.participants if p not in names]
    if unknown:
        problems.append(
            f"participants {', '.join(map(repr, unknown))} are not parties of study "
            f"{study.study_id!r} (its parties: {', '.join(sorted(names))})"
        )
    if len(set(spec.participants)) != len(spec.participants):
        problems.append("participants are repeated")
    for party in spec.dataset_ids:
        if party not in data_parties:
            problems.append(
                f"dataset_ids names {party!r}, which is not a data party of study {study.study_id!r} "
                f"(data parties: {', '.join(sorted(data_parties))})"
            )
        elif spec.participants and party not in spec.participants:
            problems.append(f"dataset_ids names {party!r}, which is not among the participants")
    if spec.participants and not any(p in data_parties for p in spec.participants):
        problems.append(f"participants include no data party ({Role.DATA.value!r} role) of the study")
    return problems


def _param_problems(spec: TaskSpec) -> list[str]:
    if not isinstance(spec.params, dict):
        return []
    problems = []
    rounds = spec.params.get("rounds")
    if rounds is not None and (isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1):
        problems.append(f"params.rounds must be an integer >= 1, not {rounds!r}")
    max_train = spec.params.get("max_train")
    if max_train is not None and (isinstance(max_train, bool) or not isinstance(max_train, int) or max_train < 1):
        problems.append(f"params.max_train must be an integer >= 1 (records per hospital), not {max_train!r}")
    if spec.kind == "evaluation" and not (isinstance(spec.params.get("model"), str) and spec.params["model"]):
        problems.append("an evaluation needs params.model: the path of a model.safetensors file on the node")
    if spec.kind == "cv_fold":
        fold, k = spec.params.get("fold"), spec.params.get("k")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (fold, k)):
            problems.append(f"a cv_fold needs integer params.fold and params.k, not {fold!r} and {k!r}")
        elif not (k >= 2 and 0 <= fold < k):  # type: ignore[operator]
            problems.append(f"a cv_fold needs k >= 2 and 0 <= fold < k, not fold={fold} k={k}")
        if rounds is not None:
            problems.append("a cv_fold runs the study's own rounds: set [training] rounds, not params.rounds")
    return problems


def _dataset_problems(spec: TaskSpec) -> list[str]:
    if not isinstance(spec.dataset_ids, dict):
        return ["dataset_ids must map a party to a dataset id"]
    bad = [f"{k!r}: {v!r}" for k, v in spec.dataset_ids.items() if not is_identifier(v) or not isinstance(k, str)]
    if bad:
        return [f"dataset ids must be letters, digits, '.', '_' or '-' ({', '.join(bad)})"]
    return []


def _binding_problems(spec: TaskSpec, find_node: Callable[[str], NodeInfo | None]) -> list[str]:
    if not is_identifier(spec.bound_to):
        return [f"bound_to {spec.bound_to!r} is not a node id"]
    assert spec.bound_to is not None
    node = find_node(spec.bound_to)
    if node is None:
        return [
            f"bound_to node {spec.bound_to!r} has never reported; start its worker "
            f"(medfed task worker --node-id {spec.bound_to}) before binding work to it"
        ]
    missing = sorted(spec.needs - set(node.datasets))
    if missing:
        held = ", ".join(node.datasets) or "none"
        return [f"bound_to node {spec.bound_to!r} does not hold dataset(s) {', '.join(missing)} (it holds: {held})"]
    return []


def _json_able(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):  # RecursionError: nested too deeply to store
        return False
    return all(isinstance(k, str) for k in value)


def expected_rounds(spec: TaskSpec) -> int:
    """The rounds a task was asked for: ``params.rounds`` (not for a fold) or the study file's."""
    rounds = spec.params.get("rounds")
    if spec.kind != "cv_fold" and isinstance(rounds, int) and not isinstance(rounds, bool):
        return rounds
    return parse_study_text(spec.study_toml).training.rounds


def result_problems(spec: TaskSpec, result: object) -> list[str]:
    """Why ``result`` cannot be the output of ``spec`` (empty when it is well-formed and consistent).

    Every kind reports ``metrics`` (finite; AUC, KS and accuracy in [0, 1], losses >= 0).
    A study and an evaluation report AUC, KS and accuracy; a study reports the number of
    rounds it ran, a fold or trial the list of its rounds: either must be what was asked for.
    """
    if not isinstance(result, dict):
        return [f"the result must be a JSON object, not {type(result).__name__}"]
    metrics = result.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        return ["the result has no 'metrics' object"]
    problems = _metric_problems(metrics)
    if not problems and not _json_able(result):
        problems.append("the result is not JSON with text keys and finite numbers")
    if spec.kind in ("study", "evaluation"):
        missing = [m for m in ("auc", "ks", "accuracy") if m not in metrics]
        if missing:
            problems.append(f"metrics lack {', '.join(missing)}")
    if spec.kind != "evaluation":
        want = expected_rounds(spec)
        rounds = result.get("rounds")
        got = len(rounds) if isinstance(rounds, list) and spec.kind != "study" else rounds
        if got != want or isinstance(got, bool):
            problems.append(f"the task was asked for {want} round(s) but the result reports {got!r}")
    return problems


def _metric_problems(metrics: dict[str, Any]) -> list[str]:
    problems = []
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems.append(f"metric {name} is not a finite number ({value!r})")
        elif _bounded(name) and not 0.0 <= value <= 1.0:
            problems.append(f"metric {name}={value} lies outside [0, 1]")
        elif name.endswith("loss") and value < 0:
            problems.append(f"metric {name}={value} is negative")
    return problems


def _bounded(name: str) -> bool:
    return name in BOUNDED_METRICS or name.endswith(("auc", "_ks", "accuracy"))
