"""``medfed node``: a hospital's process. Connects out to the dispatcher, never listens."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from medfed.authz import SqliteAuthzStore
from medfed.core.config import load_study
from medfed.crypto import get_suite
from medfed.data import load_local_dataset
from medfed.errors import IdentityError
from medfed.ledger import OperationLog
from medfed.node.consent import NodeConsent
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
    client = DispatcherClient(target, tls, connect_timeout=connect_timeout)
    try:
        authenticate_to_dispatcher(client, kit)
        end = run_node(worker, client)
    finally:
        client.close()
    if end.ok:
        log.info("%s: study %s finished", kit.name, end.study_id)
    else:
        log.error("%s: study %s failed: %s", kit.name, end.study_id, end.reason)
    return end.ok
