"""Messages between the dispatcher and the hospital nodes.

Only these cross the wire. A node's reply carries model parameters and the
declared metrics below, nothing else: no images, labels or per-record values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medfed.errors import ProtocolError

Arrays = dict[str, np.ndarray]

# A hospital reporting more samples than this is lying or broken; FedAvg weights by it.
MAX_SAMPLES = 10**9

# Aggregate metrics a node may report about a round (clause 5.4.2.1: nothing else leaves).
DECLARED_METRICS = frozenset(
    {"train_loss", "train_accuracy", "val_loss", "val_auc", "val_accuracy", "n_val", "epsilon", "unclipped"}
)


def _check_metrics(metrics: dict[str, Any]) -> None:
    """Only declared metrics, each a finite number (NaN allowed: a one-class split)."""
    undeclared = sorted(set(metrics) - DECLARED_METRICS)
    if undeclared:
        raise ProtocolError(f"message carries undeclared metrics: {undeclared}")
    for key, value in metrics.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ProtocolError(f"metric {key!r} must be a number, not {type(value).__name__}")
        if math.isinf(value):
            raise ProtocolError(f"metric {key!r} is infinite")


@dataclass(frozen=True)
class TrainTask:
    """Dispatcher → node: train the global model of ``round`` on local data."""

    study_id: str
    round: int
    params: Arrays
    config: dict[str, Any]


@dataclass(frozen=True)
class NodeUpdate:
    """Node → dispatcher: the locally trained parameters of ``round``."""

    study_id: str
    round: int
    node: str
    params: Arrays
    num_samples: int
    train_seconds: float
    metrics: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        undeclared = sorted(set(self.metrics) - DECLARED_METRICS)
        if undeclared:
            raise ProtocolError(f"update carries undeclared metrics: {undeclared}")
        if not 1 <= self.num_samples <= MAX_SAMPLES:
            raise ProtocolError(
                f"update reports num_samples={self.num_samples}; must be in [1, {MAX_SAMPLES}]"
            )
        if not (math.isfinite(self.train_seconds) and self.train_seconds >= 0):
            raise ProtocolError(f"update reports train_seconds={self.train_seconds}; must be >= 0")
        _check_metrics(self.metrics)


@dataclass(frozen=True)
class NodeFailure:
    """Node → dispatcher: the node could not complete ``round`` (coded error)."""

    study_id: str
    round: int
    node: str
    code: str
    message: str


@dataclass(frozen=True)
class StudyEnd:
    """Dispatcher → node: no more work; ``ok`` false carries the reason."""

    study_id: str
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class Ack:
    """Dispatcher → node: reply to a submission; ``accepted`` false carries the coded reason."""

    accepted: bool
    code: str = ""
    message: str = ""


@dataclass(frozen=True)
class StudyResult:
    """Dispatcher → result party: the final model and the study's record."""

    study_id: str
    ok: bool
    reason: str
    params: Arrays
    summary: dict[str, Any]


@dataclass(frozen=True)
class SecAggMessage:
    """One step of secure aggregation, either way (standard 5.4.3.2, 5.5.1.1a).

    ``body`` is the protocol message as JSON; ``params`` carries only the masked ring
    vector (``{"masked": uint8 bytes}``) in the masked-input step, and is empty otherwise.
    ``metrics`` (node → dispatcher, first step only) holds the declared aggregate metrics.
    """

    study_id: str
    round: int
    node: str
    stage: str
    body: dict[str, Any]
    params: Arrays
    metrics: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_metrics(self.metrics)
        if set(self.params) - {"masked"}:
            raise ProtocolError(f"secure-aggregation message carries tensors {sorted(self.params)}")


@dataclass(frozen=True)
class RelayMessage:
    """A step of a multi-party protocol, passed on by the dispatcher (e.g. vertical training).

    Parties connect out to the dispatcher only, so a message from ``node`` to
    ``recipient`` travels through it; ``kind`` and ``body`` are the protocol's own,
    ``params`` its arrays (e.g. ciphertexts as uint8). ``recipient`` "dispatcher"
    addresses the dispatcher itself ("start" comes from it; "done" goes to it).
    """

    study_id: str
    round: int
    node: str
    recipient: str
    kind: str
    body: dict[str, Any]
    params: Arrays


MAX_EXTRACTORS = 64  # signatures a node may report; a feature table is made by a handful


@dataclass(frozen=True)
class NodeHello:
    """Node → dispatcher, once per connection before it joins: what the dispatcher must check
    before modeling. ``extractors`` is ``{"signatures": [...]}``, the signature of each feature
    extractor that made the node's feature table, in column order (empty for images; 5.3.2d)."""

    study_id: str
    node: str
    extractors: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if set(self.extractors) - {"signatures"}:
            raise ProtocolError(f"hello carries unknown fields {sorted(set(self.extractors) - {'signatures'})}")
        signatures = self.extractors.get("signatures", [])
        if not isinstance(signatures, list) or not all(isinstance(s, str) and 0 < len(s) <= 256 for s in signatures):
            raise ProtocolError("hello: extractor signatures must be a list of short strings")
        if len(signatures) > MAX_EXTRACTORS:
            raise ProtocolError(f"hello reports {len(signatures)} extractors; at most {MAX_EXTRACTORS}")

    @property
    def signatures(self) -> list[str]:
        return list(self.extractors.get("signatures", []))


Message = (
    TrainTask | NodeUpdate | NodeFailure | StudyEnd | Ack | StudyResult | SecAggMessage | RelayMessage | NodeHello
)
