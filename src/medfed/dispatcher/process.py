"""``medfed dispatcher``: the study's coordinating process.

Progress is written as it happens (``rounds.jsonl``, one line per closed round) so a
crash loses nothing already finished; the final model and summary follow at the end.
Each committed round is checkpointed in ``<out>/state.db``: started again on the same
output folder after a crash, the dispatcher resumes at the round after the last committed
one (the nodes reconnect by themselves).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from safetensors.numpy import save_file

from medfed.authz import GrantBook, SqliteAuthzStore
from medfed.core.config import StudyConfig, load_study
from medfed.crypto import VerifyKey, get_suite
from medfed.dispatcher.checkpoint import STATE_FILE, CheckpointStore, SqliteCheckpointStore
from medfed.dispatcher.consent import ConsentGate
from medfed.dispatcher.evidence import LEDGER_FILE, Evidence
from medfed.dispatcher.handshakes import Handshakes
from medfed.dispatcher.service import DispatcherService, serve
from medfed.errors import IdentityError
from medfed.pki import load_kit
from medfed.pki.kit import OWNERS_DIR, PEERS_DIR
from medfed.pki.revocation import check_not_revoked
from medfed.pki.suite_identity import SM2_CA_FILE, SM2_CERT_FILE, kit_suite, verify_key
from medfed.privacy.he import VectorScheme, load_scheme
from medfed.roles import Role
from medfed.transport.server import ServerTLS

log = logging.getLogger("medfed.dispatcher")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


GRANTS_FILE = "grants.db"


def peer_key(study: StudyConfig, kit_dir: Path, name: str, tls_cert_pem: bytes | None = None) -> VerifyKey:
    """A party's identity key as the dispatcher knows it: from its TLS certificate (intl) or
    from its SM2 certificate in the dispatcher's kit, checked against the study's SM2 CA (gm)."""
    suite = study.security.suite.value
    if suite == "gm":
        path = kit_dir / PEERS_DIR / f"{name}.{SM2_CERT_FILE}"
        ca = kit_dir / SM2_CA_FILE
    else:
        path = kit_dir / OWNERS_DIR / f"{name}.pem"
        ca = None
    if tls_cert_pem is not None and suite != "gm":
        return verify_key(tls_cert_pem, suite)
    if not path.is_file():
        raise IdentityError(f"no {suite} certificate for {name} at {path}; re-provision the study")
    return verify_key(path.read_bytes(), suite, ca_pem=ca.read_bytes() if ca else None, name=name)


def owner_keys(study: StudyConfig, kit_dir: Path) -> dict[str, VerifyKey]:
    """Each hospital's data-owner key, from the certificates provisioning put in the dispatcher's kit."""
    return {hospital: peer_key(study, kit_dir, hospital) for hospital in study.hospitals}


def open_consent_gate(study: StudyConfig, kit_dir: Path, grants_path: Path, *, requester: str) -> ConsentGate:
    """The grant store (SQLite) and the check the coordinator runs before every round."""
    book = GrantBook(SqliteAuthzStore(grants_path), owner_keys(study, kit_dir))
    return ConsentGate(study, book, get_suite(study.security.suite.value), requester=requester)


def _he_key(path: Path | None) -> VectorScheme | None:
    return load_scheme(path.read_bytes()) if path is not None else None


def run_dispatcher_process(
    kit_dir: Path,
    study_path: Path | None,
    *,
    out_dir: Path,
    host: str | None = None,
    port: int | None = None,
    port_file: Path | None = None,
    exit_when_done: bool = False,
    grants_path: Path | None = None,
) -> bool:
    """Serve the study until SIGTERM/SIGINT (or until it ends, with ``exit_when_done``)."""
    kit = load_kit(kit_dir)
    study = load_study(study_path or kit_dir / "study.toml")
    if kit.role is not Role.DISPATCHER:
        raise IdentityError(f"kit {kit_dir} is for role {kit.role.value}, not dispatcher")
    if kit.study_id != study.study_id:
        raise IdentityError(f"kit is for study {kit.study_id!r}, study file is {study.study_id!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoints = SqliteCheckpointStore(out_dir / STATE_FILE)
    _align_rounds_log(out_dir / "rounds.jsonl", checkpoints, study.study_id)
    rounds_log = (out_dir / "rounds.jsonl").open("a", encoding="utf-8")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def on_round(entry: dict[str, Any]) -> None:
        rounds_log.write(json.dumps(entry) + "\n")
        rounds_log.flush()
        os.fsync(rounds_log.fileno())

    consent = None
    if study.security.require_grants and study.vertical is None:
        consent = open_consent_gate(study, kit_dir, grants_path or out_dir / GRANTS_FILE, requester=kit.name)
    suite, own_key = kit_suite(kit_dir, study.security.suite.value)
    handshakes = Handshakes(
        study_id=study.study_id,
        name=kit.name,
        signing_key=own_key,
        suite=suite,
        peer_key=lambda name, tls_cert: peer_key(study, kit_dir, name, tls_cert),
        revocation_check=lambda tls_cert: check_not_revoked(kit_dir, tls_cert),
    )
    evidence = Evidence(study, out_dir / LEDGER_FILE, name=kit.name, key=own_key, suite=suite)
    service = DispatcherService(
        study,
        on_round=on_round,
        sealer=_he_key(kit.he_key_path),
        consent=consent,
        handshakes=handshakes,
        evidence=evidence,
        checkpoints=checkpoints if study.vertical is None else None,
    )

    # Restarted after the study had finished: its model and summary are already final.
    finished_before = service.runtime.finished.is_set() and (out_dir / "summary.json").exists()

    def on_listening(bound: int) -> None:
        if port_file is not None:
            _write_atomic(port_file, str(bound).encode())

    def watch_end() -> None:
        service.runtime.finished.wait()
        try:
            if finished_before:
                log.info("the study had finished before this restart; its results stay as they are")
                return
            summary = service.runtime.summary()
            model = out_dir / "model.safetensors"
            save_file(service.runtime.coordinator.global_params, str(model) + ".tmp")
            os.replace(str(model) + ".tmp", model)
            _write_atomic(out_dir / "summary.json", json.dumps(summary, indent=1).encode())
            log.info("wrote %s and summary.json", model)
        finally:
            if exit_when_done:
                # Let in-flight submissions be acknowledged and nodes read StudyEnd first.
                time.sleep(2)
                stop.set()

    writer = threading.Thread(target=watch_end, daemon=True)
    writer.start()
    tls = ServerTLS(kit.key_path.read_bytes(), kit.cert_path.read_bytes(), kit.ca_path.read_bytes())
    try:
        serve(
            service,
            tls,
            host=host or study.dispatcher_host,
            port=study.dispatcher_port if port is None else port,
            stop=stop,
            on_listening=on_listening,
        )
    finally:
        writer.join(timeout=60)  # serve() ended the study if it was still running
        rounds_log.close()
        checkpoints.close()
    return bool(service.runtime.summary()["ok"])


def _align_rounds_log(path: Path, checkpoints: CheckpointStore, study_id: str) -> None:
    """After a crash, make ``rounds.jsonl`` list exactly the committed rounds: a round that
    closed but was not checkpointed is run again, and must not appear twice."""
    saved = checkpoints.latest(study_id)
    if saved is None:
        return
    _write_atomic(path, "".join(json.dumps(entry) + "\n" for entry in saved.rounds).encode())
