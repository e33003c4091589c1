"""The same study in one process: the dispatcher runtime and node workers, in-memory transport.

Frames are still encoded and decoded, so the byte counts and the code paths are
those of a real deployment; only the sockets are missing.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from medfed.aggregation.sealed import is_sealed, open_sealed
from medfed.authz import GrantBook, InMemoryAuthzStore
from medfed.authz.study_use import grant_request
from medfed.core import serde
from medfed.core.config import StudyConfig
from medfed.core.messages import Arrays, NodeHello, StudyEnd
from medfed.crypto import get_suite
from medfed.data import LocalDataset
from medfed.dispatcher.checkpoint import CheckpointStore
from medfed.dispatcher.consent import ConsentGate
from medfed.dispatcher.evidence import Evidence
from medfed.dispatcher.runtime import DispatcherRuntime
from medfed.dispatcher.setup import initial_params, new_coordinator
from medfed.errors import StudyFailedError
from medfed.node.consent import NodeConsent
from medfed.node.privacy import PrivacyGuard
from medfed.node.runner import respond
from medfed.node.worker import NodeWorker
from medfed.privacy.he import load_scheme
from medfed.provision.study import study_he_scheme


@dataclass(frozen=True)
class StudyOutcome:
    params: Arrays
    summary: dict[str, Any]
    wall_seconds: float


def simulated_consent(study: StudyConfig) -> tuple[ConsentGate, dict[str, NodeConsent]]:
    """Consent with every party in this process: each hospital's data owner gets a fresh key and
    approves the study's application; the dispatcher and every node then check as deployed."""
    suite = get_suite(study.security.suite.value)
    owners = {h: suite.generate_signing_key() for h in study.hospitals}
    store = InMemoryAuthzStore()
    book = GrantBook(store, {h: k.verify_key() for h, k in owners.items()})
    now = time.time()
    for hospital, key in owners.items():
        app = book.request(grant_request(study, hospital, "initiator", suite, now=now), now=now)
        book.approve(app.application_id, key, now=now)
    gate = ConsentGate(study, book, suite, requester="initiator")
    nodes = {
        h: NodeConsent(study, h, owner_key=k.verify_key(), suite=suite, store=store) for h, k in owners.items()
    }
    return gate, nodes


def run_in_memory(
    runtime: DispatcherRuntime,
    workers: Mapping[str, NodeWorker],
    outboxes: Mapping[str, deque[bytes]],
    *,
    idle_s: float = 0.01,
) -> dict[str, Any]:
    """Carry frames between the dispatcher and the nodes (who have joined) until the study ends.

    Returns the dispatcher's summary; raises StudyFailedError with its reason if the study failed.
    """
    while not runtime.finished.is_set():
        progressed = False
        for name, outbox in outboxes.items():
            while outbox:
                progressed = True
                reply = respond(workers[name], outbox.popleft())
                if not isinstance(reply, StudyEnd):
                    runtime.submit(name, reply)
        if not progressed:
            runtime.tick()
            time.sleep(idle_s)
    summary = runtime.summary()
    if not summary["ok"]:
        raise StudyFailedError(summary["reason"])
    return summary


def simulate(
    study: StudyConfig,
    datasets: Mapping[str, LocalDataset],
    *,
    device: torch.device,
    on_round: Callable[[dict[str, Any]], None] | None = None,
    max_epsilon: Mapping[str, float] | None = None,
    checkpoints: CheckpointStore | None = None,
    extractors: Mapping[str, Sequence[str]] | None = None,
    ledger: Path | None = None,
) -> StudyOutcome:
    """Run every round with nodes taking turns in this process; raises if the study fails.

    ``checkpoints``: each committed round is saved there (e.g. the in-memory store).
    ``extractors``: each hospital's feature-extractor signatures, reported before it joins
    as a deployed node does; the study stops when they differ (5.3.2d).
    ``ledger``: a ledger file the dispatcher records the study's evidence in, as deployed (rounds,
    integrity faults, result), signed with a key made for this run."""
    missing = sorted(set(study.hospitals) - set(datasets))
    if missing:
        raise StudyFailedError(f"no dataset given for hospital(s): {', '.join(missing)}")
    start = time.perf_counter()
    outboxes: dict[str, deque[bytes]] = {name: deque() for name in study.hospitals}
    # Encrypted studies: hospitals share the secret key, the aggregator gets the public half only.
    secret = study_he_scheme(study)
    public = load_scheme(secret.public_bytes()) if secret is not None else None
    gate, node_consent = simulated_consent(study) if study.security.require_grants else (None, {})
    coordinator = new_coordinator(study, now=time.monotonic(), sealer=public, consent=gate)
    if coordinator.plan.secure is not None:
        # Nodes commit to their masked vectors with the study suite's hash.
        secure = {**coordinator.plan.secure, "suite": study.security.suite.value}
        coordinator.plan = replace(coordinator.plan, secure=secure)
    evidence = None
    if ledger is not None:
        suite = get_suite(study.security.suite.value)
        evidence = Evidence(study, ledger, name="dispatcher", key=suite.generate_signing_key(), suite=suite)
        evidence.study_started()
    runtime = DispatcherRuntime(
        coordinator,
        lambda node, frame: outboxes[node].append(frame),
        on_round=on_round,
        checkpoints=checkpoints,
        evidence=evidence,
    )
    caps = max_epsilon or {}
    workers = {
        name: NodeWorker(
            name,
            datasets[name],
            device=device,
            guard=PrivacyGuard(max_epsilon=caps.get(name)),
            sealer=secret,
            consent=node_consent.get(name),
            adversary=study.adversary if name in study.adversary.nodes else None,
        )
        for name in study.hospitals
    }
    for name in study.hospitals:
        signatures = list((extractors or {}).get(name, ()))
        if signatures:
            runtime.submit(name, serde.encode(NodeHello(study.study_id, name, {"signatures": signatures})))
        runtime.join(name)
    summary = run_in_memory(runtime, workers, outboxes)
    summary["injections"] = [vars(i) for w in workers.values() for i in w.injections]
    params = runtime.coordinator.global_params
    if secret is not None and is_sealed(params):
        # The simulation also plays the result party, which holds the secret key.
        params = open_sealed(secret, params, initial_params(study))
    return StudyOutcome(params, summary, time.perf_counter() - start)
