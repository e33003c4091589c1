"""The inference service's web application (clauses 5.7.1.1, 5.7.2.1).

REST API under ``/api/v1`` (bearer token or the page's session cookie), the clinician's
page at ``/``, ``/healthz`` (process alive) and ``/readyz`` (model loaded and warmed up).
Every error is JSON ``{"error": {"code", "message"}}`` with a status that says why.

Cross-site request forgery: the session cookie is SameSite=Strict, and every request
that authenticates with it and changes state must carry the ``X-Medfed-CSRF`` header,
which another site cannot set without a CORS grant this service never gives.

Anything that escapes the handlers still answers JSON (``internal``, 500) and never shows
its internals; the traceback goes to the service's log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from medfed.authn import AccountLockedError, AuthenticationError, TokenClaims
from medfed.deployment.serve.auth import ServiceAuth
from medfed.deployment.serve.errors import UploadError
from medfed.deployment.serve.model import ServedModel, model_study, model_version
from medfed.deployment.serve.uploads import keep_upload, parse_upload, read_body, read_bounded

log = logging.getLogger(__name__)

API = "/api/v1"
SESSION_COOKIE = "__Host-medfed-session"
CSRF_HEADER = "X-Medfed-CSRF"
DEFAULT_MAX_UPLOAD_BYTES = 8 * 2**20
# A login is a user name and a password: anything larger is refused before it is read.
MAX_LOGIN_BYTES = 4 * 1024
_STATIC = Path(__file__).parent / "static"
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Strict-Transport-Security": "max-age=31536000",
}
_UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@dataclass
class ServiceSettings:
    """What the app needs besides the model and the authenticator."""

    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    keep_uploads: Path | None = None


@dataclass
class _Readiness:
    ready: bool = False
    problem: str = "the model is warming up"
    warmed_at: float | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class _Refused(Exception):
    """An HTTP refusal with a JSON body; raised inside handlers, rendered by one handler."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})


def _error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def create_app(
    model: ServedModel, auth: ServiceAuth, settings: ServiceSettings | None = None
) -> FastAPI:
    """The service around ``model``; warm-up runs in the background once it starts."""
    settings = settings or ServiceSettings()
    readiness = _Readiness()

    async def warm_up() -> None:
        try:
            await run_in_threadpool(model.warm_up)
        except Exception as exc:  # noqa: BLE001 - any failure leaves the service not ready, with why
            readiness.problem = f"warm-up prediction failed: {exc}"
            log.error("warm-up prediction failed: %s", exc)
            return
        readiness.ready, readiness.warmed_at = True, time.time()
        log.info("model %s warmed up: ready", model_version(model.card))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(warm_up())
        readiness.tasks.add(task)
        task.add_done_callback(readiness.tasks.discard)
        yield

    app = FastAPI(
        title="medfed inference service",
        version="1",
        description="Predictions of a jointly trained model (T/SCGS 313007-2024 clause 5.7.1.1).",
        lifespan=lifespan,
        docs_url=None,  # the Swagger page would load scripts from a CDN
        redoc_url=None,
    )

    @app.exception_handler(_Refused)
    async def refused(_: Request, exc: _Refused) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "http", str(exc.detail))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # Last resort (an error in the middleware itself); handlers' errors end below.
        return _internal(request, exc)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        try:
            response: Response = await call_next(request)
        except Exception as exc:  # noqa: BLE001 - the one place unexpected errors end
            response = _internal(request, exc)
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith(API):
            response.headers["Cache-Control"] = "no-store"
        return response

    def authenticate(request: Request, *, changes_state: bool) -> TokenClaims:
        return verified(credential(request, changes_state=changes_state))

    def verified(token: str) -> TokenClaims:
        try:
            return auth.verify(token)
        except AuthenticationError as exc:
            raise _unauthorised(f"invalid token: {exc}") from None

    def credential(request: Request, *, changes_state: bool) -> str:
        """The token the request authenticates with: the bearer token, else the cookie."""
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise _unauthorised("send 'Authorization: Bearer <token>'")
            token = token.strip()
        else:
            cookie = request.cookies.get(SESSION_COOKIE)
            if cookie is None:
                raise _unauthorised(
                    "missing bearer token; send 'Authorization: Bearer <token>' or log in"
                )
            if changes_state and request.headers.get(CSRF_HEADER) != "1":
                raise _Refused(
                    403, "csrf", f"a request with the session cookie needs the {CSRF_HEADER} header"
                )
            token = cookie
        return token

    @app.get("/healthz", tags=["service"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get(
        "/readyz", tags=["service"], summary="The model is loaded and a warm-up prediction ran"
    )
    async def readyz() -> JSONResponse:
        if not readiness.ready:
            return JSONResponse(
                {"status": "not ready", "reason": readiness.problem}, status_code=503
            )
        return JSONResponse({"status": "ready", "model_version": model_version(model.card)})

    @app.get(f"{API}/session", tags=["session"], summary="Who the credential belongs to")
    async def session(request: Request) -> dict[str, Any]:
        claims = authenticate(request, changes_state=False)
        return {"user": claims.subject, "expires_at": claims.expires_at}

    @app.get(f"{API}/model", tags=["model"], summary="The model card")
    async def model_card(request: Request) -> dict[str, Any]:
        authenticate(request, changes_state=False)
        return dict(model.card)

    @app.post(
        f"{API}/predict",
        tags=["model"],
        summary="Predict the class of one image",
        openapi_extra=_UPLOAD_SCHEMA,
    )
    async def predict(request: Request) -> dict[str, Any]:
        claims = authenticate(request, changes_state=True)
        if not readiness.ready:
            raise _Refused(
                503, "not_ready", f"not ready: {readiness.problem}", {"Retry-After": "1"}
            )
        try:
            body = await read_body(
                request.stream(),
                declared_length=request.headers.get("content-length"),
                max_file_bytes=settings.max_upload_bytes,
            )
            upload = parse_upload(
                body, request.headers.get("content-type"), max_file_bytes=settings.max_upload_bytes
            )
            started = time.perf_counter()
            # Off the event loop: decoding and inference are CPU work; sessions are thread-safe.
            prediction = await run_in_threadpool(model.predict, upload.data)
        except UploadError as exc:
            raise _Refused(exc.status, exc.code, str(exc)) from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        if settings.keep_uploads is not None:
            await run_in_threadpool(keep_upload, settings.keep_uploads, upload)
        log.info("prediction for %s: %s (%.1f ms)", claims.subject, prediction.label, elapsed_ms)
        return {
            "label": prediction.label,
            "index": prediction.index,
            "probabilities": prediction.probabilities,
            "model": {"study_id": model_study(model.card), "version": model_version(model.card)},
            "elapsed_ms": round(elapsed_ms, 3),
        }

    @app.post(
        f"{API}/login", tags=["session"], summary="Log in with a password; sets the session cookie"
    )
    async def login(request: Request) -> JSONResponse:
        if request.headers.get(CSRF_HEADER) != "1":
            raise _Refused(403, "csrf", f"a login needs the {CSRF_HEADER} header")
        try:
            body = await read_bounded(
                request.stream(),
                declared_length=request.headers.get("content-length"),
                limit=MAX_LOGIN_BYTES,
                too_large=f"a login request may hold at most {MAX_LOGIN_BYTES} bytes",
            )
        except UploadError as exc:
            raise _Refused(exc.status, exc.code, str(exc)) from None
        try:
            form = json.loads(body)
            name, password = str(form["username"]), str(form["password"])
        except (ValueError, KeyError, TypeError, RecursionError):
            # RecursionError: deeply nested JSON exhausts the parser's stack.
            raise _Refused(400, "bad_request", 'send JSON {"username": …, "password": …}') from None
        try:
            # argon2 is deliberately slow: keep the event loop free while it runs.
            token = await run_in_threadpool(auth.login, name, password)
        except AccountLockedError as exc:
            raise _Refused(
                429, "locked", str(exc), {"Retry-After": str(max(1, int(exc.until - time.time())))}
            ) from None
        except AuthenticationError as exc:
            raise _Refused(401, "authn", str(exc)) from None
        response = JSONResponse({"user": name})
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            secure=True,
            samesite="strict",
            path="/",
            max_age=auth.session_ttl_s,
        )
        return response

    @app.post(f"{API}/logout", tags=["session"], summary="End the session")
    async def logout(request: Request) -> JSONResponse:
        # Revoke the very token that authenticated the request, bearer or cookie; a cookie
        # sent along with a bearer token is only cleared, never trusted.
        token = credential(request, changes_state=True)
        verified(token)
        try:
            auth.logout(token)
        except AuthenticationError as exc:
            raise _unauthorised(f"invalid token: {exc}") from None
        response = JSONResponse({"logged_out": True})
        response.delete_cookie(
            SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict"
        )
        return response

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(_STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    return app


def _internal(request: Request, exc: Exception) -> JSONResponse:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    response = _error(500, "internal", "internal error; the service's log has the details")
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["Cache-Control"] = "no-store"
    return response


def _unauthorised(message: str) -> _Refused:
    return _Refused(401, "authn", message, {"WWW-Authenticate": 'Bearer realm="medfed"'})
