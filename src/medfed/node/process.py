"""``medfed node``: a hospital's process. Connects out to the dispatcher, never listens.

A lost connection (the dispatcher restarted after a crash, a network cut) is retried with
backoff for up to ``connect_timeout`` seconds; each attempt opens a fresh channel, runs the
challenge–response again and re-joins, and the dispatcher hands out the open round anew.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import torch

from medfed.authz import SqliteAuthzStore
from medfed.core.config import load_study
from medfed.core.messages import StudyEnd
from medfed.crypto import get_suite
from medfed.data import load_local_dataset
from medfed.errors import IdentityError, TransportError
from medfed.ledger import OperationLog
from medfed.node.consent import NodeConsent
from medfed.node.features import announce, read_extractor_signatures
from medfed.node.handshake import authenticate_to_dispatcher
from medfed.node.privacy import PrivacyGuard
from medfed.node.runner import run_node
from medfed.node.worker import NodeWorker
from medfed.pki import load_kit
from medfed.pki.kit import CONSENT_FILE
from medfed.pki.suite_identity import SM2_CA_FILE, identity_cert_name, verify_key
from medfed.privacy.he import load_scheme
from medfed.roles import Role
from medfed.training import resolve_device, warm_up
from medfed.transport.client import ClientTLS, DispatcherClient

log = logging.getLogger("medfed.node")


OPLOG_FILE = "operations.jsonl"


def _consent(kit_dir: Path, name: str) -> NodeConsent | None:
    """The node's own grant check, when the study it agreed to (its kit's copy) requires grants."""
    study = load_study(kit_dir / "study.toml")
    if not study.security.require_grants:
        return None
    suite = study.security.suite.value
    ca = kit_dir / SM2_CA_FILE
    own_cert = (kit_dir / identity_cert_name(suite)).read_bytes()
    return NodeConsent(
        study,
        name,
        owner_key=verify_key(own_cert, suite, ca_pem=ca.read_bytes() if ca.is_file() else None, name=name),
        suite=get_suite(suite),
        store=SqliteAuthzStore(kit_dir / CONSENT_FILE),
    )


def run_node_process(
    kit_dir: Path,
    data_path: Path,
    *,
    dispatcher: str | None = None,
    device: str = "auto",
    threads: int | None = None,
    connect_timeout: float = 30.0,
    max_epsilon: float | None = None,
    require_hidden_updates: bool = False,
    oplog_path: Path | None = None,
) -> bool:
    """Take part in the study named by the kit; returns whether the study ended well."""
    kit = load_kit(kit_dir)
    if kit.role is not Role.DATA:
        raise IdentityError(f"kit {kit_dir} is for role {kit.role.value}; a node needs a 'data' kit")
    if threads:
        torch.set_num_threads(threads)
    dataset = load_local_dataset(data_path)
    signatures = read_extractor_signatures(data_path)
    chosen = resolve_device(device)
    agreed = load_study(kit_dir / "study.toml")
    suite = agreed.security.suite.value
    he_key = kit.he_key_path
    worker = NodeWorker(
        kit.name,
        dataset,
        device=chosen,
        guard=PrivacyGuard(max_epsilon=max_epsilon),
        sealer=load_scheme(he_key.read_bytes()) if he_key is not None else None,
        require_hidden_updates=require_hidden_updates,
        consent=_consent(kit_dir, kit.name),
        oplog=OperationLog(oplog_path or kit_dir / OPLOG_FILE, get_suite(suite), party=kit.name, role=Role.DATA),
        # Security evaluation only: a study that names this node an adversary makes it misbehave.
        adversary=agreed.adversary if kit.name in agreed.adversary.nodes else None,
    )
    warm_up()
    target = dispatcher or f"{kit.dispatcher_host}:{kit.dispatcher_port}"
    tls = ClientTLS(
        key_pem=kit.key_path.read_bytes(),
        cert_pem=kit.cert_path.read_bytes(),
        ca_pem=kit.ca_path.read_bytes(),
    )
    log.info(
        "%s connecting to %s with %d training images, training on %s",
        kit.name, target, len(dataset.train.labels), chosen,
    )

    def session(timeout: float, joined: Callable[[], None]) -> StudyEnd:
        client = DispatcherClient(target, tls, connect_timeout=timeout)
        try:
            authenticate_to_dispatcher(client, kit)
            announce(client, kit.study_id, kit.name, signatures)
            joined()
            return run_node(worker, client)
        finally:
            client.close()

    end = stay_connected(session, connect_timeout=connect_timeout)
    if end.ok:
        log.info("%s: study %s finished", kit.name, end.study_id)
    else:
        log.error("%s: study %s failed: %s", kit.name, end.study_id, end.reason)
    return end.ok


Session = Callable[[float, Callable[[], None]], StudyEnd]


class _Flag:
    """Called by a session once it has joined; its outage budget then starts afresh."""

    def __init__(self) -> None:
        self.raised = False

    def __call__(self) -> None:
        self.raised = True


def stay_connected(
    session: Session,
    *,
    connect_timeout: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> StudyEnd:
    """Run ``session(timeout, joined)`` until the study ends, reconnecting after a TransportError.

    The outage budget is ``connect_timeout`` seconds, counted from the first connection
    attempt and again from each loss after the session had joined; within it, attempts are
    spaced by a backoff of 0.5 s doubling to 5 s. Past it the last TransportError is raised.
    """
    lost_at = clock()
    delay = 0.5
    while True:
        joined = _Flag()
        remaining = max(connect_timeout - (clock() - lost_at), 0.1)
        try:
            return session(remaining, joined)
        except TransportError as exc:
            now = clock()
            if joined.raised:
                lost_at, delay = now, 0.5  # it had been serving: a fresh outage budget
            left = connect_timeout - (now - lost_at)
            if left <= 0:
                raise
            wait = min(delay, left)
            log.warning("lost the dispatcher (%s); reconnecting in %.1f s (%.0f s left)", exc, wait, left)
            sleep(wait)
            delay = min(delay * 2, 5.0)
