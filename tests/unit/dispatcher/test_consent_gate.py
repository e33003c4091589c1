"""Consent at the dispatcher: no grant, no work; the data owner's approval starts the study;
a revocation stops that hospital's next round. Real grant book and signatures, no network."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from medfed.aggregation import FedAvg
from medfed.authz import ApplicationStatus, GrantBook, InMemoryAuthzStore
from medfed.core.config import load_study
from medfed.core.messages import NodeUpdate, TrainTask
from medfed.crypto import get_suite
from medfed.dispatcher.consent import ConsentGate
from medfed.dispatcher.coordinator import (
    Coordinator,
    Phase,
    RoundClosed,
    Send,
    StudyFinished,
    StudyPlan,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pneumonia-3-hospitals.toml"
SUITE = get_suite("intl")


class _Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _setup(min_nodes: int = 2):
    study = load_study(EXAMPLE)
    study = replace(study, training=replace(study.training, min_nodes=min_nodes))
    owners = {h: SUITE.generate_signing_key() for h in study.hospitals}
    book = GrantBook(InMemoryAuthzStore(), {h: k.verify_key() for h, k in owners.items()})
    clock = _Clock()
    gate = ConsentGate(study, book, SUITE, requester="initiator", clock=clock)
    plan = StudyPlan(study.study_id, 2, study.hospitals, min_nodes, {}, round_timeout=60, join_timeout=30)
    coordinator = Coordinator(plan, FedAvg(), {"w": np.zeros(2, np.float32)}, now=0.0, consent=gate)
    return study, owners, book, gate, coordinator, clock


def _tasks(actions) -> dict[str, TrainTask]:
    return {a.node: a.message for a in actions if isinstance(a, Send) and isinstance(a.message, TrainTask)}


def _approve(book: GrantBook, gate: ConsentGate, owners, hospital: str, now: float) -> str:
    grant = book.approve(gate.applications[hospital], owners[hospital], now=now)
    return grant.grant_id


@pytest.mark.clause("5.5.1.2e", "5.5.1.2f")
def test_no_grant_no_work_until_each_data_owner_approves() -> None:
    study, owners, book, gate, c, clock = _setup()
    actions = []
    for h in study.hospitals:
        actions += c.node_joined(h, now=1.0)
    assert _tasks(actions) == {} and c.phase is Phase.WAITING
    # Each missing grant became a pending application for that hospital's data owner.
    apps = {h: book._store.get_application(a) for h, a in gate.applications.items()}  # noqa: SLF001
    assert sorted(apps) == sorted(study.hospitals)
    assert all(app is not None and app.status is ApplicationStatus.PENDING for app in apps.values())
    for h in study.hospitals[:2]:
        _approve(book, gate, owners, h, clock.now)
    assert _tasks(c.tick(now=2.0)) == {}  # still waiting for the third owner
    _approve(book, gate, owners, study.hospitals[2], clock.now)
    tasks = _tasks(c.tick(now=3.0))
    assert sorted(tasks) == sorted(study.hospitals)
    assert all(isinstance(t.config["grant"], str) and len(t.config["grant"]) > 100 for t in tasks.values())


@pytest.mark.clause("5.5.1.2g")
def test_a_revoked_grant_stops_that_hospitals_next_round() -> None:
    study, owners, book, gate, c, clock = _setup()
    for h in study.hospitals:
        c.node_joined(h, now=1.0)
    grants = {h: _approve(book, gate, owners, h, clock.now) for h in study.hospitals}
    tasks = _tasks(c.tick(now=2.0))
    assert len(tasks) == 3
    revoked = study.hospitals[1]
    book.revoke(grants[revoked], "the patient cohort was withdrawn", now=clock.now)
    actions = []
    for h in study.hospitals:
        update = NodeUpdate(study.study_id, 1, h, {"w": np.ones(2, np.float32)}, 10, 0.1, {})
        _, more = c.update_received(update, now=3.0)
        actions += more
    round_two = _tasks(actions)
    assert sorted(round_two) == sorted(set(study.hospitals) - {revoked})
    assert "revoked" in c._current.dropped[revoked]  # noqa: SLF001
    assert any(isinstance(a, RoundClosed) for a in actions)


@pytest.mark.clause("5.5.1.2g")
def test_an_expired_grant_is_refused_and_too_few_grants_fail_the_study_with_the_reason() -> None:
    study, owners, book, gate, c, clock = _setup(min_nodes=2)
    for h in study.hospitals:
        c.node_joined(h, now=1.0)
    _approve(book, gate, owners, study.hospitals[0], clock.now)
    clock.now += 31 * 86_400  # past the 30 days applied for
    actions = c.tick(now=31.0)  # join timeout
    finished = [a for a in actions if isinstance(a, StudyFinished)]
    assert finished and not finished[0].ok
    assert "data-use grant" in finished[0].reason and "awaits" in finished[0].reason
