"""Mutual TLS, roles, hostile updates and what crosses the wire — with real processes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from medfed.core import serde
from medfed.core.messages import DECLARED_METRICS, Ack, NodeUpdate, StudyEnd, TrainTask
from medfed.data import images_to_float, load_local_dataset
from medfed.errors import IdentityError, TransportError
from medfed.models import build_model, model_arrays
from medfed.node.handshake import authenticate_to_dispatcher
from medfed.node.runner import run_node
from medfed.node.worker import NodeWorker
from medfed.pki import CertificateAuthority, load_kit
from medfed.provision import provision_study
from medfed.roles import Role
from medfed.transport.client import ClientTLS, DispatcherClient
from tests.integration.conftest import make_site

pytestmark = pytest.mark.slow


def _tls(kit_dir: Path) -> ClientTLS:
    kit = load_kit(kit_dir)
    return ClientTLS(kit.key_path.read_bytes(), kit.cert_path.read_bytes(), kit.ca_path.read_bytes())


@pytest.mark.clause("5.4.2.3a")
def test_node_with_certificate_from_another_ca_is_refused(site, tmp_path) -> None:
    foreign = tmp_path / "foreign-kits"
    provision_study(site.study, foreign)  # same names, different CA
    deployment = site.deployment()
    try:
        port = deployment.start_dispatcher()
        proc = deployment.start_node(
            "hospital-a", kit_dir=foreign / "hospital-a", extra=["--connect-timeout", "4"]
        )
        assert proc.wait(timeout=60) == 2
        log = (deployment.logs / "hospital-a.log").read_text()
        assert "mutual-TLS session" in log and f"127.0.0.1:{port}" in log
        assert "joined" not in (deployment.logs / "dispatcher.log").read_text()
        with pytest.raises(TransportError, match="TLS"):
            DispatcherClient(f"127.0.0.1:{port}", _tls(foreign / "hospital-b"), connect_timeout=3)
    finally:
        deployment.kill_all()


@pytest.mark.clause("5.4.2.3a")
def test_expired_certificate_is_refused_locally_and_by_the_dispatcher(site, tmp_path) -> None:
    ca = CertificateAuthority.load(site.kits / "ca")
    now = datetime.now(UTC)
    expired = ca.issue(
        "hospital-a", Role.DATA, not_before=now - timedelta(days=10), not_after=now - timedelta(days=1)
    )
    kit = load_kit(site.kits / "hospital-a")
    tls = ClientTLS(expired.key_pem, expired.cert_pem, kit.ca_path.read_bytes())
    deployment = site.deployment()
    try:
        port = deployment.start_dispatcher()
        with pytest.raises(TransportError, match="expired|TLS"):
            DispatcherClient(f"127.0.0.1:{port}", tls, connect_timeout=3)
        # The genuine kit of the same hospital still connects.
        DispatcherClient(f"127.0.0.1:{port}", _tls(site.kits / "hospital-a"), connect_timeout=10).close()
    finally:
        deployment.kill_all()
    bad_kit = tmp_path / "expired-kit"
    bad_kit.mkdir()
    for name in ("kit.toml", "ca.pem"):
        (bad_kit / name).write_bytes((site.kits / "hospital-a" / name).read_bytes())
    (bad_kit / "cert.pem").write_bytes(expired.cert_pem)
    key = bad_kit / "key.pem"
    key.write_bytes(expired.key_pem)
    key.chmod(0o600)
    with pytest.raises(IdentityError, match="expired"):
        load_kit(bad_kit)


@pytest.mark.clause("5.4.2.3a", "5.4.2.3g", "5.5.1.2d")
def test_roles_in_certificates_gate_each_call(site) -> None:
    deployment = site.deployment()
    try:
        port = deployment.start_dispatcher()
        as_result = DispatcherClient(f"127.0.0.1:{port}", _tls(site.kits / "result"), connect_timeout=10)
        with pytest.raises(IdentityError, match="Join is for role"):
            next(iter(as_result.tasks()))
        as_result.close()
        as_node = DispatcherClient(f"127.0.0.1:{port}", _tls(site.kits / "hospital-b"), connect_timeout=10)
        with pytest.raises(IdentityError, match="FetchResult is for role"):
            as_node.fetch_result(0.1)
        as_node.close()
        # The task initiator started the study but may not download the model either.
        as_initiator = DispatcherClient(f"127.0.0.1:{port}", _tls(site.kits / "initiator"), connect_timeout=10)
        with pytest.raises(IdentityError, match="FetchResult is for role"):
            as_initiator.fetch_result(0.1)
        as_initiator.close()
    finally:
        deployment.kill_all()


@pytest.mark.clause("5.5.1.2a", "5.5.1.2c")
def test_mutual_tls_alone_is_not_enough_a_party_must_answer_the_challenge(site, tmp_path) -> None:
    import shutil

    deployment = site.deployment()
    try:
        port = deployment.start_dispatcher()
        skipper = DispatcherClient(f"127.0.0.1:{port}", _tls(site.kits / "hospital-a"), connect_timeout=10)
        with pytest.raises(IdentityError, match="challenge–response"):
            next(iter(skipper.tasks()))
        with pytest.raises(IdentityError, match="challenge–response"):
            skipper.submit(b"frame")
        skipper.close()
        # A kit that trusts another dispatcher key refuses the dispatcher's answer.
        fake = tmp_path / "kit-with-another-dispatcher"
        shutil.copytree(site.kits / "hospital-b", fake)
        (fake / "dispatcher.pem").write_bytes((site.kits / "hospital-c" / "cert.pem").read_bytes())
        (fake / "dispatcher.sm2.pem").write_bytes((site.kits / "hospital-c" / "sm2.pem").read_bytes())
        doubter = DispatcherClient(f"127.0.0.1:{port}", _tls(fake), connect_timeout=10)
        with pytest.raises(IdentityError):
            authenticate_to_dispatcher(doubter, load_kit(fake))
        doubter.close()
        honest = DispatcherClient(f"127.0.0.1:{port}", _tls(site.kits / "hospital-b"), connect_timeout=10)
        authenticate_to_dispatcher(honest, load_kit(site.kits / "hospital-b"))
        honest.close()
    finally:
        deployment.kill_all()


@pytest.mark.clause("5.5.1.3c", "5.5.1.2c")
def test_a_revoked_certificate_is_refused_at_its_next_connection(site) -> None:
    from medfed.cli import main

    deployment = site.deployment()
    try:
        port = deployment.start_dispatcher()
        before = DispatcherClient(f"127.0.0.1:{port}", _tls(site.kits / "hospital-b"), connect_timeout=10)
        authenticate_to_dispatcher(before, load_kit(site.kits / "hospital-b"))
        assert main([
            "revoke-cert", "--dispatcher-kit", str(site.kits / "dispatcher"),
            "--kit", str(site.kits / "hospital-b"), "--reason", "key_compromise",
        ]) == 0
        with pytest.raises(IdentityError, match="revoked"):  # an open session stops too
            before.submit(b"frame")
        before.close()
        after = DispatcherClient(f"127.0.0.1:{port}", _tls(site.kits / "hospital-b"), connect_timeout=10)
        with pytest.raises(IdentityError, match="revoked.*key_compromise"):
            authenticate_to_dispatcher(after, load_kit(site.kits / "hospital-b"))
        after.close()
        other = DispatcherClient(f"127.0.0.1:{port}", _tls(site.kits / "hospital-a"), connect_timeout=10)
        authenticate_to_dispatcher(other, load_kit(site.kits / "hospital-a"))
        other.close()
    finally:
        deployment.kill_all()


class _RecordingChannel:
    """Wraps the real client and keeps every frame this node sends."""

    def __init__(self, client: DispatcherClient) -> None:
        self.client = client
        self.sent: list[bytes] = []

    def tasks(self):
        return self.client.tasks()

    def submit(self, frame: bytes) -> bytes:
        self.sent.append(frame)
        return self.client.submit(frame)


def _run_with_recorded_hospital_a(site) -> list[bytes]:
    """Run the study with hospital-a in this process, keeping every frame it sends."""
    import torch

    deployment = site.deployment()
    dataset = load_local_dataset(site.data_paths["hospital-a"])
    try:
        port = deployment.start_dispatcher()
        for name in ("hospital-b", "hospital-c"):
            deployment.start_node(name)
        worker = NodeWorker("hospital-a", dataset, device=torch.device("cpu"))
        client = DispatcherClient(f"127.0.0.1:{port}", _tls(site.kits / "hospital-a"), connect_timeout=10)
        authenticate_to_dispatcher(client, load_kit(site.kits / "hospital-a"))
        channel = _RecordingChannel(client)
        end = run_node(worker, channel)
        assert isinstance(end, StudyEnd) and end.ok, end.reason
    finally:
        deployment.stop()
        deployment.kill_all()
    return channel.sent


@pytest.mark.clause("5.5.1.1a", "5.4.1")
def test_under_secure_aggregation_only_masked_vectors_leave_a_node(tmp_path, medmnist_dir) -> None:
    from medfed.core.config import PrivacyConfig
    from medfed.core.messages import SecAggMessage

    site = make_site(tmp_path / "site", medmnist_dir, privacy=PrivacyConfig(secure_aggregation=True))
    sent = _run_with_recorded_hospital_a(site)
    messages = [serde.decode(frame) for frame in sent]
    assert all(isinstance(m, SecAggMessage) for m in messages)
    stages = [m.stage for m in messages]
    assert stages == ["advertise", "share_keys", "masked", "unmask_shares"] * site.study.training.rounds
    for message in messages:
        assert set(message.params) <= {"masked"}
        if message.stage == "masked":
            data = message.params["masked"]
            assert data.size == 4 * (206_034 + 1)  # float entries (BN statistics too) + weight, 4 bytes each
            counts = np.bincount(data, minlength=256)
            chi2 = float(((counts - data.size / 256) ** 2 / (data.size / 256)).sum())
            assert chi2 < 400  # indistinguishable from uniform bytes (255 degrees of freedom)


@pytest.mark.clause("5.4.2.1")
def test_no_image_or_label_leaves_a_node(site) -> None:
    dataset = load_local_dataset(site.data_paths["hospital-a"])
    channel_sent = _run_with_recorded_hospital_a(site)

    reference = model_arrays(build_model("cnn2d", in_channels=1, n_classes=2, dims=2))
    assert len(channel_sent) == site.study.training.rounds
    images = dataset.train.images
    as_float = images_to_float(images, dims=2)
    for frame in channel_sent:
        header = serde.header_of(frame)
        assert set(header) == {
            "type", "study_id", "round", "node", "num_samples", "train_seconds", "metrics"
        }
        assert header["type"] == "node_update"
        assert set(header["metrics"]) <= DECLARED_METRICS
        assert all(isinstance(v, float) for v in header["metrics"].values())
        update = serde.decode(frame)
        assert isinstance(update, NodeUpdate)
        assert {k: v.shape for k, v in update.params.items()} == {k: v.shape for k, v in reference.items()}
        # No training image, as stored or as fed to the model, appears anywhere in the frame.
        for i in range(0, len(images), max(1, len(images) // 40)):
            assert images[i].tobytes() not in frame
            assert as_float[i, 0, 0].tobytes() not in frame  # one float32 image row
        # The label vector does not travel either (as bytes of any common dtype).
        for dtype in (np.int64, np.int32, np.uint8):
            assert dataset.train.labels.astype(dtype).tobytes() not in frame


@pytest.mark.clause("5.4.2.3h")
def test_poisoned_updates_are_refused_and_the_study_finishes(tmp_path, medmnist_dir) -> None:
    site = make_site(tmp_path / "site", medmnist_dir, rounds=2, min_nodes=2)
    deployment = site.deployment()
    replies: list[Ack] = []
    try:
        port = deployment.start_dispatcher()
        for name in ("hospital-b", "hospital-c"):
            deployment.start_node(name)
        rogue = DispatcherClient(f"127.0.0.1:{port}", _tls(site.kits / "hospital-a"), connect_timeout=10)
        authenticate_to_dispatcher(rogue, load_kit(site.kits / "hospital-a"))

        def misbehave() -> None:
            for frame in rogue.tasks():
                task = serde.decode(frame)
                if not isinstance(task, TrainTask):
                    return
                replies.append(serde.decode(rogue.submit(b"garbage")))
                params = {k: v.copy() for k, v in task.params.items()}
                key = next(k for k, v in params.items() if v.dtype == np.float32)
                if task.round == 1:
                    params[key][...] = np.nan
                else:
                    params[key] = params[key][..., :1].copy()
                update = NodeUpdate(task.study_id, task.round, "hospital-a", params, 100, 0.1)
                replies.append(serde.decode(rogue.submit(serde.encode(update))))

        thread = threading.Thread(target=misbehave, daemon=True)
        thread.start()
        result = deployment.wait_for_result()
        thread.join(10)
        rogue.close()
    finally:
        deployment.stop()
        deployment.kill_all()
    assert result.ok, result.reason
    assert [r.code for r in replies] == ["protocol", "update_rejected", "protocol", "update_rejected"]
    assert "NaN" in replies[1].message and "shape" in replies[3].message
    for entry in result.summary["rounds"]:
        assert entry["accepted"] == ["hospital-b", "hospital-c"]
        assert "rejected" in entry["dropped"]["hospital-a"]
    assert all(np.isfinite(v).all() for v in result.params.values() if v.dtype.kind == "f")


@pytest.mark.clause("5.5.1.1e", "5.5.1.4b")
def test_a_node_process_swapping_its_masked_vector_is_named_in_the_ledger(tmp_path, medmnist_dir) -> None:
    from dataclasses import replace

    from medfed.core.config import (
        AdversaryConfig,
        Behaviour,
        FaultTarget,
        PrivacyConfig,
        dump_study,
    )
    from medfed.dispatcher.evidence import LEDGER_FILE
    from medfed.ledger import EntryKind, open_store
    from medfed.orchestration.consent import approve_all
    from medfed.orchestration.scenario import write_hospital_files

    site = make_site(
        tmp_path / "site", medmnist_dir, privacy=PrivacyConfig(secure_aggregation=True), rounds=1, min_nodes=2,
        approve=False,
    )
    # The study every party agrees to names hospital-a a malicious party (security evaluation only);
    # kits and grants are made for that study.
    adversary = AdversaryConfig(nodes=("hospital-a",), behaviour=Behaviour.RANDOM_FACTORS, target=FaultTarget.MASKED)
    site.study = replace(site.study, adversary=adversary)
    site.root = tmp_path / "attacked"
    site.root.mkdir()
    site.study_path = site.root / "study.toml"
    site.study_path.write_text(dump_study(site.study))
    site.kits = site.root / "kits"
    provision_study(site.study, site.kits)
    site.data_paths = write_hospital_files(site.scenario, site.root / "hospitals")
    approve_all(site.study, site.kits, site.grants)
    deployment = site.deployment()
    try:
        deployment.start_dispatcher()
        for name in site.study.hospitals:
            deployment.start_node(name)
        result = deployment.wait_for_result()
    finally:
        deployment.stop()
        deployment.kill_all()
    assert result.ok, result.reason
    (entry,) = result.summary["rounds"]
    assert entry["accepted"] == ["hospital-b", "hospital-c"] and "commitment" in entry["faults"]["hospital-a"]
    ledger = open_store(deployment.launch.work_dir / "dispatcher" / LEDGER_FILE)
    assert [e.payload["suspect"] for e in ledger if e.kind is EntryKind.ANOMALY] == ["hospital-a"]
    # Ground truth, apart from detection: the node's own log says what it injected.
    node_log = (deployment.logs / "hospital-a.log").read_text()
    assert "injected fault (security evaluation): random_factors in masked" in node_log
