"""The study's goals (standard 5.2): the question, machine-checked success criteria, privacy
goals, data requirements and the sharing agreement.

Success criteria are short expressions such as ``"auc >= 0.90"`` or ``"|delta_auc| <= 0.02"``,
read by a small grammar of their own (never ``eval``)::

    criterion := side OP side          one side a term, the other a number
    term      := METRIC | "|" METRIC "|"
    OP        := ">=" | "<=" | ">" | "<" | "=="
    number    := decimal or scientific literal, optionally signed

``METRIC`` comes from :data:`METRICS`, the fixed vocabulary of what ``results.json`` holds.
A criterion that no value in its metric's range can meet, or a set of criteria that
contradict each other, is refused when the study file is read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from medfed.errors import ConfigError


class GoalError(ConfigError):
    """A [goals] entry is malformed, names an unknown metric, or can never be met."""

    code = "goal"


class GoalRefusedError(ConfigError):
    """The study, as configured, breaks one of its own declared privacy or data goals."""

    code = "goal_refused"


class MetricSpec(NamedTuple):
    """Where a metric is read in ``results.json`` and which values it can take."""

    description: str
    low: float
    high: float


# The vocabulary: every name is a value ``results.json`` holds (orchestration.results reads them).
METRICS: dict[str, MetricSpec] = {
    "auc": MetricSpec("federated model's (macro) AUC on the test split", 0.0, 1.0),
    "ks": MetricSpec("federated model's KS statistic on the test split", 0.0, 1.0),
    "accuracy": MetricSpec("federated model's accuracy on the test split", 0.0, 1.0),
    "misdiagnosis_rate": MetricSpec("1 - accuracy of the federated model", 0.0, 1.0),
    "centralized_auc": MetricSpec("centrally trained model's AUC", 0.0, 1.0),
    "centralized_ks": MetricSpec("centrally trained model's KS", 0.0, 1.0),
    "centralized_accuracy": MetricSpec("centrally trained model's accuracy", 0.0, 1.0),
    "delta_auc": MetricSpec("federated AUC minus centralized AUC (signed)", -1.0, 1.0),
    "delta_ks": MetricSpec("federated KS minus centralized KS (signed)", -1.0, 1.0),
    "delta_accuracy": MetricSpec("federated accuracy minus centralized accuracy (signed)", -1.0, 1.0),
    "epsilon": MetricSpec("largest epsilon any hospital spent (differential privacy)", 0.0, math.inf),
    "mia_auc": MetricSpec("membership-inference attack AUC (0.5 = chance)", 0.0, 1.0),
    "mia_advantage": MetricSpec("membership-inference attack advantage", 0.0, 1.0),
    "train_seconds": MetricSpec("federated training time, seconds", 0.0, math.inf),
    "wall_seconds": MetricSpec("wall time of the whole run, seconds", 0.0, math.inf),
}

_OPS = (">=", "<=", "==", ">", "<")
_TOKEN = re.compile(
    r"\s*(?:(?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<op>>=|<=|==|>|<)"
    r"|(?P<bar>\|)|(?P<name>[A-Za-z_][A-Za-z0-9_]*))"
)
_FLIP = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "=="}


class Interval(NamedTuple):
    """Values ``x`` with ``low <(=) x <(=) high``; ``*_open`` makes the bound strict."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def intersect(self, other: Interval) -> Interval:
        if other.low > self.low or (other.low == self.low and other.low_open):
            low, low_open = other.low, other.low_open
        else:
            low, low_open = self.low, self.low_open
        if other.high < self.high or (other.high == self.high and other.high_open):
            high, high_open = other.high, other.high_open
        else:
            high, high_open = self.high, self.high_open
        return Interval(low, high, low_open, high_open)

    @property
    def empty(self) -> bool:
        return self.low > self.high or (self.low == self.high and (self.low_open or self.high_open))


@dataclass(frozen=True)
class Criterion:
    """One parsed success criterion: ``[|]metric[|] op bound``."""

    text: str
    metric: str
    op: str
    bound: float
    absolute: bool = False

    @property
    def term(self) -> str:
        return f"|{self.metric}|" if self.absolute else self.metric

    def holds(self, value: float) -> bool:
        """Whether a measured value of the metric meets this criterion."""
        x = abs(value) if self.absolute else value
        return {
            ">=": x >= self.bound, "<=": x <= self.bound, ">": x > self.bound,
            "<": x < self.bound, "==": math.isclose(x, self.bound, abs_tol=1e-12),
        }[self.op]

    def interval(self) -> Interval:
        """The values of the *term* (|metric| when absolute) that meet the criterion."""
        b = self.bound
        return {
            ">=": Interval(b, math.inf), ">": Interval(b, math.inf, low_open=True),
            "<=": Interval(-math.inf, b), "<": Interval(-math.inf, b, high_open=True),
            "==": Interval(b, b),
        }[self.op]

    def term_range(self) -> Interval:
        spec = METRICS[self.metric]
        if not self.absolute:
            return Interval(spec.low, spec.high)
        high = max(abs(spec.low), abs(spec.high))
        low = 0.0 if spec.low <= 0 <= spec.high else min(abs(spec.low), abs(spec.high))
        return Interval(low, high)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    stripped = text.rstrip()
    while pos < len(stripped):
        match = _TOKEN.match(stripped, pos)
        if match is None or match.end() == pos:
            raise GoalError(f"criterion {text!r}: unexpected character {stripped[pos:].lstrip()[:1]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _term(tokens: list[tuple[str, str]], text: str) -> tuple[str, bool] | None:
    """``(metric, absolute)`` when ``tokens`` spell a term, ``None`` when they are a number."""
    kinds = [k for k, _ in tokens]
    if kinds == ["num"]:
        return None
    if kinds == ["name"]:
        name = tokens[0][1]
    elif kinds == ["bar", "name", "bar"]:
        name = tokens[1][1]
    else:
        raise GoalError(
            f"criterion {text!r} is malformed: each side must be a metric, |metric| or a number"
        )
    if name not in METRICS:
        known = ", ".join(sorted(METRICS))
        raise GoalError(f"criterion {text!r}: unknown metric {name!r}; known metrics: {known}")
    return name, kinds[0] == "bar"


def parse_criterion(text: str) -> Criterion:
    """Parse one criterion; raises :class:`GoalError` with the reason when it is not valid."""
    if not isinstance(text, str) or not text.strip():
        raise GoalError(f"a criterion must be a non-empty string such as 'auc >= 0.9', not {text!r}")
    tokens = _tokens(text)
    ops = [i for i, (kind, _) in enumerate(tokens) if kind == "op"]
    if len(ops) != 1:
        raise GoalError(
            f"criterion {text!r} is malformed: it needs exactly one comparison "
            f"({', '.join(_OPS)}), found {len(ops)}"
        )
    at = ops[0]
    op = tokens[at][1]
    left, right = _term(tokens[:at], text), _term(tokens[at + 1 :], text)
    if (left is None) == (right is None):
        raise GoalError(f"criterion {text!r} is malformed: compare one metric with one number")
    if left is None:  # "0.9 <= auc" reads as "auc >= 0.9"
        number, (metric, absolute), op = tokens[0][1], right, _FLIP[op]  # type: ignore[misc]
    else:
        metric, absolute = left
        number = tokens[-1][1]
    bound = float(number)
    if not math.isfinite(bound):
        raise GoalError(f"criterion {text!r}: the bound must be a finite number")
    criterion = Criterion(text.strip(), metric, op, bound, absolute)
    feasible = criterion.interval().intersect(criterion.term_range())
    if feasible.empty:
        spec = criterion.term_range()
        raise GoalError(
            f"criterion {text!r} can never be met: {criterion.term} lies in "
            f"[{spec.low:g}, {spec.high:g}] ({METRICS[metric].description})"
        )
    return criterion


def parse_criteria(texts: Sequence[str]) -> tuple[Criterion, ...]:
    """Parse every criterion and refuse a set that contradicts itself."""
    criteria = tuple(parse_criterion(t) for t in texts)
    by_term: dict[tuple[str, bool], list[Criterion]] = {}
    for c in criteria:
        by_term.setdefault((c.metric, c.absolute), []).append(c)
    for group in by_term.values():
        feasible = group[0].term_range()
        for c in group:
            feasible = feasible.intersect(c.interval())
        if feasible.empty:
            listed = " and ".join(repr(c.text) for c in group)
            raise GoalError(f"criteria {listed} contradict each other: no value of {group[0].term} meets all")
    for (metric, absolute), group in by_term.items():
        # |x| <= b caps x to [-b, b]; a plain bound on x outside it contradicts.
        if absolute or (metric, True) not in by_term:
            continue
        caps = [c for c in by_term[(metric, True)] if c.op in ("<=", "<", "==")]
        feasible = Interval(-math.inf, math.inf)
        for c in group:
            feasible = feasible.intersect(c.interval())
        for cap in caps:
            window = Interval(-cap.bound, cap.bound, cap.op == "<", cap.op == "<")
            if feasible.intersect(window).empty:
                raise GoalError(
                    f"criteria {cap.text!r} and {', '.join(repr(c.text) for c in group)} contradict each other"
                )
    return criteria


# What ``require`` may name; the run checks each against the study's own [privacy] section.
REQUIRABLE = {
    "secure_aggregation": "pairwise-masked secure aggregation",
    "differential_privacy": "any differential-privacy mechanism (dp_fedavg or dp_sgd)",
    "dp_fedavg": "client-level differential privacy",
    "dp_sgd": "sample-level differential privacy",
    "encryption": "homomorphic encryption of the updates",
    "consent": "signed data-use grants from every hospital",
    "gm_crypto": "the national (SM2/SM3/SM4) crypto suite",
}


@dataclass(frozen=True)
class PrivacyGoals:
    """[goals.privacy]: declared by the manifest, enforced before the study starts."""

    deidentified: bool = True  # every hospital's data must be marked de-identified
    max_epsilon: float | None = None  # cap on the planned epsilon of every hospital
    require: tuple[str, ...] = ()  # mechanisms the study must use (see REQUIRABLE)
    limits: str = ""  # limits on use, stated in the report

    def __post_init__(self) -> None:
        if self.max_epsilon is not None and not (math.isfinite(self.max_epsilon) and self.max_epsilon > 0):
            raise GoalError(f"[goals.privacy] max_epsilon must be a finite number > 0, not {self.max_epsilon}")
        unknown = sorted(set(self.require) - set(REQUIRABLE))
        if unknown:
            raise GoalError(
                f"[goals.privacy] require names unknown mechanisms {unknown}; choose from: {', '.join(REQUIRABLE)}"
            )


@dataclass(frozen=True)
class DataRequirements:
    """[goals.data]: what the data must be, checked against the partition before training."""

    modality: str = ""  # e.g. "chest x-ray"; must match the dataset's modality when set
    min_per_class: int = 0  # records of each class every hospital must hold
    min_cell: int = 10  # counts below this are never printed (small-cell suppression)
    sources: str = ""  # where the data comes from, stated in the report

    def __post_init__(self) -> None:
        if self.min_per_class < 0 or self.min_cell < 1:
            raise GoalError("[goals.data] min_per_class must be >= 0 and min_cell >= 1")


# The results a party may be granted; each maps to results.json sections (or the model file).
RELEASES: dict[str, tuple[str, ...]] = {
    "model": (),  # model.safetensors
    "metrics": ("federated", "centralized", "delta", "goals"),
    "rounds": ("rounds", "totals"),
    "privacy": ("privacy",),
    "dataset": ("dataset",),
    "config": ("config", "parties", "mode", "wall_seconds", "repeats"),
    "report": (),  # report.html (aggregates only)
}


@dataclass(frozen=True)
class GoalsConfig:
    """[goals]: what the study sets out to answer and how success and privacy are judged."""

    question: str = ""
    direction: str = ""  # the research direction the question belongs to
    criteria: tuple[str, ...] = ()
    privacy: PrivacyGoals = field(default_factory=PrivacyGoals)
    data: DataRequirements = field(default_factory=DataRequirements)
    sharing: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (party, releases) pairs

    def __post_init__(self) -> None:
        parse_criteria(self.criteria)
        for party, items in self.sharing:
            unknown = sorted(set(items) - set(RELEASES))
            if unknown:
                raise GoalError(
                    f"[goals.sharing] {party} is granted unknown results {unknown}; choose from: {', '.join(RELEASES)}"
                )

    @property
    def parsed(self) -> tuple[Criterion, ...]:
        return parse_criteria(self.criteria)

    def releases(self, party: str) -> tuple[str, ...] | None:
        """What ``party`` may receive; ``None`` when no sharing agreement is declared."""
        if not self.sharing:
            return None
        return dict(self.sharing).get(party, ())


def check_privacy_goals(
    goals: PrivacyGoals,
    *,
    mechanisms: set[str],
    planned_epsilon: Mapping[str, float],
    deidentified: Mapping[str, bool],
) -> None:
    """Refuse (:class:`GoalRefusedError`, every problem listed) a study that breaks its privacy goals.

    ``mechanisms`` are the REQUIRABLE names the study uses; ``planned_epsilon`` is each
    hospital's epsilon after all planned rounds (``inf`` without differential privacy);
    ``deidentified`` says, per hospital, whether the data layer marks its data de-identified.
    """
    problems = []
    missing = [m for m in goals.require if m not in mechanisms]
    for name in missing:
        problems.append(f"the goals require {name} ({REQUIRABLE[name]}) but the study does not use it")
    if goals.max_epsilon is not None:
        for hospital, eps in sorted(planned_epsilon.items()):
            if not eps <= goals.max_epsilon:
                shown = "infinite (no differential privacy)" if math.isinf(eps) else f"{eps:.3f}"
                problems.append(
                    f"{hospital}'s planned epsilon would be {shown}, above the goal's max_epsilon "
                    f"{goals.max_epsilon:g}: add noise, train fewer rounds or raise the cap"
                )
    if goals.deidentified:
        for hospital, marked in sorted(deidentified.items()):
            if not marked:
                problems.append(f"{hospital}'s data is not marked de-identified; de-identify it first")
    if problems:
        raise GoalRefusedError("the study breaks its privacy goals: " + "; ".join(problems))


def check_data_requirements(
    requirements: DataRequirements,
    *,
    counts: Mapping[str, Mapping[str, int]],
    class_names: Sequence[str],
    modality: str | None,
) -> None:
    """Refuse a partition that misses the data requirements, naming party and class.

    ``counts`` maps each hospital to records per class (keys "0", "1", …). A count below
    ``min_cell`` is never printed: the error says "fewer than min_cell" instead.
    """
    problems = []
    if requirements.modality and modality is not None and (
        requirements.modality.strip().lower() != modality.strip().lower()
    ):
        problems.append(f"the goals ask for modality {requirements.modality!r}, the dataset is {modality!r}")
    need = requirements.min_per_class
    for hospital, per_class in counts.items():
        for index, name in enumerate(class_names):
            held = int(per_class.get(str(index), 0))
            if held >= need:
                continue
            shown = f"{held}" if held >= requirements.min_cell else f"fewer than {requirements.min_cell}"
            problems.append(
                f"{hospital} holds {shown} records of class {index} ({name}); the goals need {need}"
            )
    if problems:
        raise GoalRefusedError("the data does not meet the goals: " + "; ".join(problems))
