"""Before modeling, every party must extract the same features (5.3.2d)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medfed.aggregation import FedAvg
from medfed.core import serde
from medfed.core.messages import NodeHello, StudyEnd, TrainTask
from medfed.data.features import FirstOrder, GLCMTexture
from medfed.dispatcher.coordinator import (
    Coordinator,
    FeaturesRefused,
    Phase,
    Send,
    StudyFinished,
    StudyPlan,
)
from medfed.dispatcher.runtime import DispatcherRuntime
from medfed.errors import DataIntegrityError, ProtocolError
from medfed.node.features import read_extractor_signatures

NODES = ("h1", "h2")
FIRST = FirstOrder().signature()
GLCM = GLCMTexture().signature()
GLCM_OTHER = GLCMTexture(levels=16).signature()


def _coordinator() -> Coordinator:
    plan = StudyPlan("s", 2, NODES, 2, {"lr": 0.1}, round_timeout=60, join_timeout=30)
    return Coordinator(plan, FedAvg(), {"w": np.zeros(3, np.float32)}, now=0.0)


def _start(c: Coordinator, reports: dict[str, list[str]]) -> list:
    for node, signatures in reports.items():
        c.node_reported(node, signatures, now=0.5)
    actions: list = []
    for node in NODES:
        actions += c.node_joined(node, now=1.0)
    return actions


@pytest.mark.clause("5.3.2d")
def test_matching_extractors_let_the_study_start() -> None:
    c = _coordinator()
    actions = _start(c, {"h1": [FIRST, GLCM], "h2": [FIRST, GLCM]})
    assert c.phase is Phase.TRAINING
    assert sorted(a.node for a in actions if isinstance(a, Send) and isinstance(a.message, TrainTask)) == list(NODES)


@pytest.mark.clause("5.3.2d")
def test_different_extractor_parameters_stop_the_study_naming_party_and_extractor() -> None:
    c = _coordinator()
    actions = _start(c, {"h1": [FIRST, GLCM], "h2": [FIRST, GLCM_OTHER]})
    assert c.phase is Phase.FAILED
    assert not any(isinstance(a, Send) and isinstance(a.message, TrainTask) for a in actions)
    (refused,) = [a for a in actions if isinstance(a, FeaturesRefused)]
    # Two parties, one each: the tie goes to the first by name, so h2 is the one that differs.
    assert refused.suspects == ("h2",)
    assert "h2 has extractor glcm" in refused.reason and "5.3.2d" in refused.reason
    assert "h2 has extractor glcm" in c.reason
    finished = [a for a in actions if isinstance(a, StudyFinished)]
    assert finished and not finished[0].ok
    ends = [a.message for a in actions if isinstance(a, Send) and isinstance(a.message, StudyEnd)]
    assert len(ends) == 2 and all("feature extractors differ" in e.reason for e in ends)


@pytest.mark.clause("5.3.2d")
def test_a_party_without_signatures_differs_from_parties_with_them() -> None:
    c = _coordinator()
    actions = _start(c, {"h1": [FIRST]})
    (refused,) = [a for a in actions if isinstance(a, FeaturesRefused)]
    assert "no first_order extractor" in refused.reason


def test_image_studies_report_nothing_and_start() -> None:
    c = _coordinator()
    _start(c, {})
    assert c.phase is Phase.TRAINING


def test_column_order_matters() -> None:
    c = _coordinator()
    actions = _start(c, {"h1": [FIRST, GLCM], "h2": [GLCM, FIRST]})
    (refused,) = [a for a in actions if isinstance(a, FeaturesRefused)]
    assert "another column order" in refused.reason


def test_hello_travels_through_the_runtime_and_a_mismatch_is_refused_there() -> None:
    sent: list[tuple[str, bytes]] = []
    runtime = DispatcherRuntime(_coordinator(), lambda n, f: sent.append((n, f)))
    for node, sig in (("h1", GLCM), ("h2", GLCM_OTHER)):
        ack = serde.decode(runtime.submit(node, serde.encode(NodeHello("s", node, {"signatures": [sig]}))))
        assert ack.accepted  # type: ignore[union-attr]
        runtime.join(node)
    assert runtime.finished.is_set() and not runtime.summary()["ok"]
    assert "h2 has extractor glcm" in runtime.summary()["reason"]
    forged = serde.decode(runtime.submit("h1", serde.encode(NodeHello("s", "h2", {"signatures": [GLCM]}))))
    assert not forged.accepted and "claims h2" in forged.message  # type: ignore[union-attr]


def test_hello_frames_are_checked_on_decode() -> None:
    hello = NodeHello("s", "h1", {"signatures": [FIRST]})
    assert serde.decode(serde.encode(hello)) == hello
    with pytest.raises(ProtocolError, match="list of short strings"):
        NodeHello("s", "h1", {"signatures": "first_order"})
    with pytest.raises(ProtocolError, match="unknown fields"):
        NodeHello("s", "h1", {"pixels": [1]})


@pytest.mark.parametrize(
    "entry",
    [
        np.array([FIRST, GLCM]),
        np.array(f'["{FIRST}", "{GLCM}"]'),
        np.array(json.dumps([{"name": "first_order", "signature": FIRST}, {"signature": GLCM}])),
    ],
)
def test_node_reads_signatures_from_its_data_file(tmp_path: Path, entry: np.ndarray) -> None:
    path = tmp_path / "table.npz"
    np.savez(path, features=np.zeros((2, 2)), extractors=entry)
    assert read_extractor_signatures(path) == [FIRST, GLCM]


def test_data_file_without_extractors_reports_none_and_a_bad_entry_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "images.npz"
    np.savez(plain, train_images=np.zeros((2, 4, 4), np.uint8))
    assert read_extractor_signatures(plain) == []
    bad = tmp_path / "bad.npz"
    np.savez(bad, extractors=np.zeros(3))
    with pytest.raises(DataIntegrityError, match="must hold text"):
        read_extractor_signatures(bad)
