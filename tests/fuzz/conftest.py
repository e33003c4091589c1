"""A real dispatcher gRPC server (mutual TLS on loopback) for the hostile-input suite."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from medfed.core.config import StudyConfig, load_study
from medfed.dispatcher.service import DispatcherService
from medfed.orchestration.scenario import Scenario, prepare_scenario
from medfed.pki import load_kit
from medfed.provision import provision_study
from medfed.transport import wire
from medfed.transport.client import ClientTLS, DispatcherClient
from medfed.transport.server import ServerTLS, start_server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pneumonia-3-hospitals.toml"
MESSAGE_LIMIT = wire.message_limit_for(4 * 1024 * 1024)  # sized from a ~1 M-parameter model


@dataclass
class LiveDispatcher:
    study: StudyConfig
    service: DispatcherService
    port: int
    kits: Path
    scenario: Scenario

    def tls(self, party: str) -> ClientTLS:
        kit = load_kit(self.kits / party)
        return ClientTLS(kit.key_path.read_bytes(), kit.cert_path.read_bytes(), kit.ca_path.read_bytes())

    def client(self, party: str = "hospital-a") -> DispatcherClient:
        return DispatcherClient(
            f"127.0.0.1:{self.port}", self.tls(party), connect_timeout=10, max_message_bytes=MESSAGE_LIMIT
        )


@pytest.fixture(scope="session")
def live_dispatcher(tmp_path_factory, medmnist_dir) -> Iterator[LiveDispatcher]:
    base = load_study(EXAMPLE)
    study = replace(
        base,
        study_id="fuzz-study",
        data=replace(base.data, dataset="breastmnist", alpha=1.0),
        training=replace(base.training, rounds=1, batch_size=32, join_timeout=120, round_timeout=120),
        # Consent has its own tests; here only the wire is under attack.
        security=replace(base.security, require_grants=False),
    )
    root = tmp_path_factory.mktemp("fuzz")
    provision_study(study, root / "kits")
    kit = load_kit(root / "kits" / "dispatcher")
    tls = ServerTLS(kit.key_path.read_bytes(), kit.cert_path.read_bytes(), kit.ca_path.read_bytes())
    service = DispatcherService(study)
    server, port = start_server(
        service, tls, study_id=study.study_id, host="127.0.0.1", port=0, max_message_bytes=MESSAGE_LIMIT
    )
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.2):
            service.runtime.tick()

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    scenario = prepare_scenario(study, data_dir=medmnist_dir)
    try:
        yield LiveDispatcher(study, service, port, root / "kits", scenario)
    finally:
        stop.set()
        server.stop(grace=1).wait()
