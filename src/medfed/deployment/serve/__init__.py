"""The cloud inference service (clauses 5.7.1.1, 5.7.2.1): ``medfed serve <bundle>``.

A signed model bundle is verified against the study CA, loaded with the edge runtime and
served over HTTPS (TLS 1.2+, the certificate of a startup kit): a REST API under
``/api/v1`` for programs (bearer tokens), a page at ``/`` for clinicians (password login,
session cookie), ``/healthz`` and ``/readyz`` for the operator. Uploaded images stay in
memory unless the operator asks to keep them.
"""

from __future__ import annotations

from medfed.deployment.serve.app import ServiceSettings, create_app
from medfed.deployment.serve.auth import AuthSettings, ServiceAuth
from medfed.deployment.serve.errors import (
    ImageTooLargeError,
    ServiceConfigError,
    UnsupportedImageError,
    UploadError,
    UploadTooLargeError,
)
from medfed.deployment.serve.model import ServedModel, ServedPrediction, load_bundle_model
from medfed.deployment.serve.server import RunningService, TlsFiles, start_service
from medfed.deployment.serve.service import (
    ServeOptions,
    open_auth,
    serve_until_signalled,
    start_from_options,
)

__all__ = [
    "AuthSettings",
    "RunningService",
    "ServeOptions",
    "ServedModel",
    "ServedPrediction",
    "ServiceAuth",
    "ImageTooLargeError",
    "ServiceConfigError",
    "ServiceSettings",
    "TlsFiles",
    "UnsupportedImageError",
    "UploadError",
    "UploadTooLargeError",
    "create_app",
    "load_bundle_model",
    "open_auth",
    "serve_until_signalled",
    "start_from_options",
    "start_service",
]
