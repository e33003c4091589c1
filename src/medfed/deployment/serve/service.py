"""Assemble the inference service from the operator's options (what ``medfed serve`` runs)."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from fastapi import FastAPI

from medfed.authn import Argon2Params
from medfed.deployment.serve.app import DEFAULT_MAX_UPLOAD_BYTES, ServiceSettings, create_app
from medfed.deployment.serve.auth import (
    DEFAULT_API_TTL_S,
    AuthSettings,
    ServiceAuth,
    default_state_dir,
    study_suite,
)
from medfed.deployment.serve.errors import ServiceConfigError
from medfed.deployment.serve.model import ServedModel, load_bundle_model, model_version
from medfed.deployment.serve.server import RunningService, TlsFiles, start_service
from medfed.pki import StartupKit, load_kit
from medfed.pki._files import write_private

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    """Everything ``medfed serve <bundle>`` is told; sizes in bytes."""

    bundle: Path
    trusted_ca: Path
    kit: Path
    host: str = "127.0.0.1"
    port: int = 8443
    port_file: Path | None = None
    keep_uploads: Path | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    state_dir: Path | None = None
    token_file: Path | None = None
    token_ttl_s: int = DEFAULT_API_TTL_S

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ServiceConfigError(f"--port must be in 0..65535, not {self.port}")
        if self.max_upload_bytes < 1:
            raise ServiceConfigError(
                f"the upload limit must be positive, not {self.max_upload_bytes}"
            )


def open_auth(
    kit: StartupKit, state_dir: Path | None, *, argon2: Argon2Params | None = None
) -> ServiceAuth:
    """The service's authenticator over ``state_dir`` (default ``<kit>/serve``)."""
    return ServiceAuth(
        AuthSettings(
            state_dir=state_dir or default_state_dir(kit),
            study_id=kit.study_id,
            suite=study_suite(kit),
            argon2=argon2,
        )
    )


def _uploads_dir(path: Path | None) -> Path | None:
    if path is None:
        return None
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ServiceConfigError(f"--keep-uploads folder {path} cannot be created: {exc}") from None
    return path


def build_app(model: ServedModel, auth: ServiceAuth, options: ServeOptions) -> FastAPI:
    settings = ServiceSettings(
        max_upload_bytes=options.max_upload_bytes, keep_uploads=_uploads_dir(options.keep_uploads)
    )
    return create_app(model, auth, settings)


def start_from_options(options: ServeOptions) -> tuple[RunningService, ServiceAuth]:
    """Verify the bundle, load the kit, start serving; nothing listens if any check fails."""
    model = load_bundle_model(options.bundle, trusted_ca=options.trusted_ca)
    kit = load_kit(options.kit)
    auth = open_auth(kit, options.state_dir)
    try:
        app = build_app(model, auth, options)
        service = start_service(app, TlsFiles.from_kit(kit), host=options.host, port=options.port)
    except BaseException:
        auth.close()
        raise
    if options.token_file is not None:
        write_private(
            options.token_file,
            (auth.issue_api_token(kit.name, ttl_s=options.token_ttl_s) + "\n").encode(),
        )
    if options.port_file is not None:
        options.port_file.write_text(f"{service.port}\n", encoding="utf-8")
    log.info(
        "serving model %s of study %s at %s", model_version(model.card), kit.study_id, service.url
    )
    return service, auth


def serve_until_signalled(options: ServeOptions) -> None:
    """Run until SIGINT or SIGTERM, then shut down gracefully."""
    service, auth = start_from_options(options)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    print(f"medfed serve: listening on {service.url}", flush=True)
    try:
        while not stop.is_set() and service.is_running():
            stop.wait(0.5)
    finally:
        service.stop()
        auth.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
