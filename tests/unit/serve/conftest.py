"""A signed bundle exported from a run folder, a TLS kit for the service, and the running service.

The bundle holds a freshly initialised CNN (seeded): its predictions vary from image to image,
which is all these tests need; training is tested elsewhere.
"""

from __future__ import annotations

import io
import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.numpy import save_file

import medfed_runtime
from medfed.authn import Argon2Params
from medfed.core.config import load_study
from medfed.deployment import export_run
from medfed.deployment.serve import (
    AuthSettings,
    RunningService,
    ServiceAuth,
    ServiceSettings,
    TlsFiles,
    create_app,
    load_bundle_model,
    start_service,
)
from medfed.models import build_model, model_arrays
from medfed.pki import CertificateAuthority, StartupKit, write_kit
from medfed.provision import provision_study
from medfed.roles import Role

REPO = Path(__file__).resolve().parents[3]
USER, PASSWORD = "clinician", "correct horse battery staple"
MAX_UPLOAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Study:
    """A provisioned study, its exported bundle and a service kit naming localhost."""

    root: Path
    kits: Path
    bundle: Path
    service_kit: StartupKit

    @property
    def ca(self) -> Path:
        return self.kits / "ca" / "ca.pem"


def _study_file(root: Path) -> Path:
    text = (REPO / "examples" / "pneumonia-3-hospitals.toml").read_text(encoding="utf-8")
    path = root / "study.toml"
    path.write_text(text.replace('suite = "gm"', 'suite = "intl"'), encoding="utf-8")
    return path


def _run_folder(root: Path, study_id: str) -> Path:
    run = root / "run"
    run.mkdir()
    torch.manual_seed(0)
    model = build_model("cnn2d", in_channels=1, n_classes=2, dims=2, image_size=28)
    save_file(model_arrays(model), str(run / "model.safetensors"))
    results = {
        "study": {"id": study_id},
        "config": {"model": "cnn2d"},
        "dataset": {"flag": "pneumoniamnist", "size": 28},
        "federated": {"auc": 0.5, "accuracy": 0.5},
    }
    (run / "results.json").write_text(json.dumps(results), encoding="utf-8")
    return run


@pytest.fixture(scope="session")
def study(tmp_path_factory: pytest.TempPathFactory, medmnist_dir: Path) -> Study:
    root = tmp_path_factory.mktemp("serve-study")
    config = load_study(_study_file(root))
    provision_study(config, root / "kits")
    bundle = root / "model.mfbundle"
    export_run(
        _run_folder(root, config.study_id),
        bundle,
        signer_kit=root / "kits" / "result",
        data_dir=medmnist_dir,
    )
    # The result party's certificate names no host; the service gets its own, naming loopback.
    ca = CertificateAuthority.load(root / "kits" / "ca")
    issued = ca.issue("inference", Role.AUX, hosts=["localhost", "127.0.0.1"])
    kit = write_kit(
        root / "inference",
        issued,
        ca_pem=ca.cert_pem,
        study_id=config.study_id,
        dispatcher_host="127.0.0.1",
        dispatcher_port=0,
    )
    return Study(root, root / "kits", bundle, kit)


@pytest.fixture(scope="session")
def sdk(study: Study) -> medfed_runtime.Bundle:
    """The edge SDK's own view of the bundle: the reference every answer is checked against."""
    return medfed_runtime.load_bundle(study.bundle, trusted_ca=study.ca)


def png_bytes(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=95)
    return out.getvalue()


def dicom_bytes(pixels: np.ndarray) -> bytes:
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("image.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = (
        meta.MediaStorageSOPClassUID,
        meta.MediaStorageSOPInstanceUID,
    )
    ds.Modality = "OT"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (pixels.astype(np.uint16) * 16).tobytes()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


@pytest.fixture(scope="session")
def test_pixels(medmnist_dir: Path) -> np.ndarray:
    """Six PneumoniaMNIST test images (28×28 uint8)."""
    with np.load(medmnist_dir / "pneumoniamnist.npz") as data:
        return np.asarray(data["test_images"][:6])


@pytest.fixture(scope="session")
def images(test_pixels: np.ndarray) -> dict[str, bytes]:
    """Named encoded test images in every format the service takes."""
    named = {f"png-{i}": png_bytes(p) for i, p in enumerate(test_pixels[:4])}
    named["jpeg-4"] = jpeg_bytes(test_pixels[4])
    named["dicom-5"] = dicom_bytes(test_pixels[5])
    return named


def auth_for(state_dir: Path, study_id: str, **options: object) -> ServiceAuth:
    from medfed.crypto import get_suite

    settings = AuthSettings(
        state_dir=state_dir,
        study_id=study_id,
        suite=get_suite("intl"),
        argon2=Argon2Params.fast_insecure(),
    )
    return ServiceAuth(settings, **options)  # type: ignore[arg-type]


@dataclass
class Service:
    running: RunningService
    auth: ServiceAuth
    token: str
    state_dir: Path

    @property
    def url(self) -> str:
        return self.running.url


def wait_ready(url: str, verify: ssl.SSLContext, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while httpx.get(f"{url}/readyz", verify=verify).status_code != 200:
        assert time.monotonic() < deadline, "the service never became ready"
        time.sleep(0.05)


@pytest.fixture(scope="session")
def trust(study: Study) -> ssl.SSLContext:
    """A client context that trusts the study CA only (and checks host names)."""
    return ssl.create_default_context(cafile=str(study.ca))


@pytest.fixture(scope="session")
def service(
    study: Study, trust: ssl.SSLContext, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    state = tmp_path_factory.mktemp("serve-state")
    auth = auth_for(state, study.service_kit.study_id)
    auth.enrol(USER, PASSWORD)
    app = create_app(
        load_bundle_model(study.bundle, trusted_ca=study.ca),
        auth,
        ServiceSettings(max_upload_bytes=MAX_UPLOAD_BYTES),
    )
    running = start_service(app, TlsFiles.from_kit(study.service_kit), host="127.0.0.1", port=0)
    try:
        wait_ready(running.url, trust)
        yield Service(running, auth, auth.issue_api_token("api-client"), state)
    finally:
        running.stop()
        auth.close()


@pytest.fixture
def client(service: Service, trust: ssl.SSLContext) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=service.url,
        verify=trust,
        headers={"Authorization": f"Bearer {service.token}"},
        timeout=30,
    ) as c:
        yield c
