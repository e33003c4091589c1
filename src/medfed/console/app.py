"""The console's web application: pages, JSON for the live refresh, login and CSRF checks.

Every page and JSON endpoint but the login needs a session cookie; every form POST also
carries the session's CSRF token, and a POST whose ``Origin`` is another site is refused
before it is read. Bodies are capped and multipart refused before anything parses them
(:mod:`medfed.console.limits`). Roles follow the permission matrix of :mod:`medfed.authz.rbac`;
a task's result and the run reports are shown to the result party only (5.4.2.3g).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from medfed.authn import AccountLockedError, AuthenticationError
from medfed.authz import Action, PermissionDeniedError, is_permitted, require
from medfed.console.ledger_view import read_ledger
from medfed.console.limits import BodyLimit
from medfed.console.reports import REPORT_FILE, list_runs, report_path, run_folder
from medfed.console.services import ConsoleServices, open_services, sees_results
from medfed.console.sessions import COOKIE, LOGIN_COOKIE, Session
from medfed.console.settings import ConsoleSettings
from medfed.console.tasks import CUSTOM, FORM_KINDS, build_spec, bundled_examples
from medfed.console.worker import LocalWorker
from medfed.errors import IdentityError, MedfedError
from medfed.orchestration.runs import DEMO_STUDY
from medfed.pki.identity import certificate_fingerprint
from medfed.roles import Role
from medfed.scheduling import parse_study_text

_PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
# A report is our own HTML with inline styles and SVG plots; it runs no script, even if
# a study's text in it were crafted to try.
_REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox"
_LOCAL_PATH = re.compile(r"/(?:[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*)?")
_NOTICES = {"launched": "Task launched.", "cancelled": "Task cancelled.", "approved": "Application approved: the grant is signed.", "denied": "Application denied."}


class _LoginRequired(Exception):
    def __init__(self, api: bool) -> None:
        super().__init__("log in first")
        self.api = api


class _BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _require_results(role: Role) -> None:
    """PermissionDeniedError (403) unless ``role`` may see results (5.4.2.3g)."""
    if not sees_results(role):
        raise PermissionDeniedError(
            f"role {str(role)!r} may not see results: only the result party ({Role.RESULT.value!r}) does"
        )


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def create_app(settings: ConsoleSettings, *, services: ConsoleServices | None = None) -> FastAPI:
    """The console as an ASGI app; serve it with :func:`medfed.console.serve_console` (HTTPS)."""
    svc = services or open_services(settings)
    background = LocalWorker(svc.scheduler, settings, run_worker=settings.worker)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        background.start()
        try:
            yield
        finally:
            background.stop()
            svc.close()

    app = FastAPI(title="medfed console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.services = svc
    package = files("medfed.console")
    templates = Jinja2Templates(directory=str(package / "templates"))
    templates.env.globals["fmt"] = _fmt
    app.mount("/static", StaticFiles(directory=str(package / "static")), name="static")

    # -- plumbing: headers, origin check, errors ----------------------------------------
    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("origin")
            if origin is not None and origin != f"https://{request.headers.get('host', '')}":
                return JSONResponse({"error": "cross-site request refused"}, status_code=403)
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", _PAGE_CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # "same-origin", not "no-referrer": with no referrer Chromium posts forms with "Origin: null".
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    # Outermost, so that no body is parsed (nor spooled) before it is checked.
    app.add_middleware(BodyLimit)

    def page(request: Request, name: str, session: Session | None, status: int = 200, **context: Any) -> HTMLResponse:
        notice = _NOTICES.get(request.query_params.get("done", ""))
        sees = session is not None and sees_results(session.account.role)
        base = {"session": session, "study_id": svc.context.study.study_id, "notice": notice, "error": None,
                "sees_results": sees}
        return templates.TemplateResponse(request, name, {**base, **context}, status_code=status)

    @app.exception_handler(_LoginRequired)
    async def login_required(request: Request, exc: _LoginRequired) -> Response:
        if exc.api:
            return JSONResponse({"error": "log in first"}, status_code=401)
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(IdentityError)
    async def forbidden(request: Request, exc: IdentityError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=403)
        session = svc.sessions.resume(request.cookies.get(COOKIE))
        return page(request, "error.html", session, 403, title="Not permitted", error=str(exc), page="")

    @app.exception_handler(_BadRequest)
    async def bad_request(request: Request, exc: _BadRequest) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        session = svc.sessions.resume(request.cookies.get(COOKIE))
        return page(request, "error.html", session, exc.status, title="Refused", error=str(exc), page="")

    def current(request: Request) -> Session:
        session = svc.sessions.resume(request.cookies.get(COOKIE))
        if session is None:
            raise _LoginRequired(api=request.url.path.startswith("/api/"))
        return session

    def posted(request: Request, csrf: str) -> Session:
        session = current(request)
        if not svc.sessions.csrf_ok(session, csrf):
            raise _BadRequest("the form's security token is missing or stale: reload the page and try again", 403)
        return session

    # -- login ----------------------------------------------------------------------------
    def login_page(request: Request, next_path: str, error: str | None, status: int = 200) -> Response:
        token = secrets.token_urlsafe(24)
        response = page(request, "login.html", None, status, login_csrf=token, next=next_path, error=error, page="login")
        response.set_cookie(LOGIN_COOKIE, token, max_age=900, path="/login", secure=True, httponly=True, samesite="strict")
        return response

    @app.get("/login")
    def login_form(request: Request, next: str = "/tasks") -> Response:
        if svc.sessions.resume(request.cookies.get(COOKIE)) is not None:
            return RedirectResponse("/tasks", status_code=303)
        return login_page(request, next, None)

    @app.post("/login")
    def login(
        request: Request,
        username: str = Form(""),
        password: str = Form(""),
        login_csrf: str = Form(""),
        next: str = Form("/tasks"),
    ) -> Response:
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(expected, login_csrf):
            return login_page(request, next, "The login form expired: please try again.", 403)
        try:
            session = svc.sessions.login(username.strip(), password)
        except AccountLockedError:
            return login_page(request, next, "Too many failed attempts: this account is locked for a while.", 401)
        except AuthenticationError:
            return login_page(request, next, "Wrong user name or password.", 401)
        # Only a plain local path: "//host" or "/\\host" would leave the site.
        target = next if _LOCAL_PATH.fullmatch(next) and next != "/login" else "/tasks"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE, session.token, max_age=settings.session_ttl_s, path="/", secure=True, httponly=True, samesite="strict"
        )
        response.delete_cookie(LOGIN_COOKIE, path="/login", secure=True, httponly=True, samesite="strict")
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        svc.sessions.logout(posted(request, csrf))
        response = RedirectResponse("/login", status_code=303)
        # Secure as when set: a browser ignores an unsecured Set-Cookie for a "__Host-" name.
        response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
        return response

    @app.get("/")
    def home(request: Request) -> Response:
        current(request)
        return RedirectResponse("/tasks", status_code=303)

    # -- studies and tasks (5.4.2.3c-d) -----------------------------------------------------
    def tasks_page(request: Request, session: Session, form: dict[str, str], error: str | None, status: int = 200) -> Response:
        tasks = sorted(svc.scheduler.list(), key=lambda t: t.created_at, reverse=True)
        return page(
            request, "tasks.html", session, status, page="tasks", error=error, form=form,
            tasks=[svc.task_view(t, session.account.role) for t in tasks], examples=bundled_examples(), kinds=FORM_KINDS,
            can_launch=is_permitted(session.account.role, Action.LAUNCH_TASK), refresh_ms=settings.refresh_ms,
        )

    @app.get("/tasks")
    def tasks(request: Request) -> Response:
        session = current(request)
        require(session.account.role, Action.VIEW_TASK)
        form = {"source": CUSTOM, "study_text": DEMO_STUDY.read_text(encoding="utf-8"), "kind": "study",
                "name": "", "priority": "0", "rounds": ""}
        return tasks_page(request, session, form, None)

    @app.post("/tasks")
    def launch(
        request: Request,
        csrf: str = Form(""),
        source: str = Form(CUSTOM),
        study_text: str = Form(""),
        kind: str = Form("study"),
        name: str = Form(""),
        priority: str = Form("0"),
        rounds: str = Form(""),
    ) -> Response:
        session = posted(request, csrf)
        require(session.account.role, Action.LAUNCH_TASK)
        form = {"source": source, "study_text": study_text, "kind": kind, "name": name, "priority": priority, "rounds": rounds}
        try:
            spec = build_spec(source=source, study_text=study_text, kind=kind, name=name, priority=priority, rounds=rounds)
            if parse_study_text(spec.study_toml).study_id == svc.context.kit.study_id:
                # Pinned as `medfed task create` does: results are later checked against this CA only.
                # A task of another study (a bundled example) has no CA here to pin and stays unpinned.
                spec = replace(spec, study_ca_sha256=certificate_fingerprint(svc.context.kit.ca_path.read_bytes()))
            svc.scheduler.submit(spec, session.account.name)
        except IdentityError:
            raise
        except MedfedError as exc:
            # The form comes back as typed, with the reason: nothing is lost.
            return tasks_page(request, session, form, f"The task was not launched: {exc}", 400)
        return RedirectResponse("/tasks?done=launched", status_code=303)

    def find_task(task_id: str) -> Any:
        try:
            task = svc.scheduler.get(task_id)
        except MedfedError:
            task = None
        if task is None:
            raise _BadRequest(f"no task {task_id!r}", 404)
        return task

    @app.get("/tasks/{task_id}")
    def task_detail(request: Request, task_id: str) -> Response:
        session = current(request)
        require(session.account.role, Action.VIEW_TASK)
        task = find_task(task_id)
        spec = task.spec.to_dict()
        extra = {k: v for k, v in spec.items() if k not in ("study_toml", "name", "kind", "priority") and v not in (None, [], {})}
        role = session.account.role
        shown = task.result if task.result and sees_results(role) else None
        return page(
            request, "task.html", session, page="tasks", t=svc.task_view(task, role), study_toml=task.spec.study_toml,
            spec_extra=json.dumps(extra, indent=1) if extra else "",
            result_json=json.dumps(shown, indent=1, default=str) if shown else "",
            can_launch=is_permitted(session.account.role, Action.LAUNCH_TASK), refresh_ms=settings.refresh_ms,
        )

    @app.post("/tasks/{task_id}/cancel")
    def cancel(request: Request, task_id: str, csrf: str = Form("")) -> Response:
        session = posted(request, csrf)
        require(session.account.role, Action.LAUNCH_TASK)
        find_task(task_id)
        try:
            svc.scheduler.cancel(task_id, session.account.name)
        except IdentityError:
            raise
        except MedfedError as exc:
            raise _BadRequest(f"the task was not cancelled: {exc}", 409) from None
        return RedirectResponse(f"/tasks/{task_id}?done=cancelled", status_code=303)

    @app.get("/api/tasks")
    def api_tasks(request: Request) -> dict[str, Any]:
        role = current(request).account.role
        require(role, Action.VIEW_TASK)
        tasks = sorted(svc.scheduler.list(), key=lambda t: t.created_at, reverse=True)
        return {"tasks": [svc.task_view(t, role) for t in tasks]}

    @app.get("/api/tasks/{task_id}")
    def api_task(request: Request, task_id: str) -> dict[str, Any]:
        role = current(request).account.role
        require(role, Action.VIEW_TASK)
        return svc.task_view(find_task(task_id), role)

    # -- nodes ------------------------------------------------------------------------------
    @app.get("/nodes")
    def nodes(request: Request) -> Response:
        session = current(request)
        require(session.account.role, Action.VIEW_TASK)
        found = sorted(svc.scheduler.nodes(), key=lambda n: n.node_id)
        return page(request, "nodes.html", session, page="nodes", nodes=found, live=svc.scheduler.live)

    @app.get("/api/nodes")
    def api_nodes(request: Request) -> dict[str, Any]:
        require(current(request).account.role, Action.VIEW_TASK)
        return {"nodes": [n.to_dict() for n in sorted(svc.scheduler.nodes(), key=lambda n: n.node_id)]}

    # -- authorization applications (5.5.1.2e-f) ---------------------------------------------
    @app.get("/applications")
    def applications(request: Request) -> Response:
        session = current(request)
        require(session.account.role, Action.VIEW_TASK)
        return page(
            request, "applications.html", session, page="applications", apps=svc.desk.list(),
            configured=svc.desk.configured, may_decide=lambda app: svc.desk.may_decide(session.account, app),
        )

    @app.post("/applications/{application_id}/approve")
    def approve(request: Request, application_id: str, csrf: str = Form("")) -> Response:
        session = posted(request, csrf)
        try:
            svc.desk.approve(session.account, application_id)
        except IdentityError:
            raise
        except MedfedError as exc:
            raise _BadRequest(f"not approved: {exc}") from None
        return RedirectResponse("/applications?done=approved", status_code=303)

    @app.post("/applications/{application_id}/deny")
    def deny(request: Request, application_id: str, csrf: str = Form(""), reason: str = Form("")) -> Response:
        session = posted(request, csrf)
        try:
            svc.desk.deny(session.account, application_id, reason[:500])
        except IdentityError:
            raise
        except MedfedError as exc:
            raise _BadRequest(f"not denied: {exc}") from None
        return RedirectResponse("/applications?done=denied", status_code=303)

    # -- ledger (5.4.2.3i) -------------------------------------------------------------------
    @app.get("/ledger")
    def ledger(request: Request) -> Response:
        session = current(request)
        require(session.account.role, Action.READ_LEDGER)
        try:
            view = read_ledger(settings.ledger, svc.context)
        except MedfedError as exc:
            raise _BadRequest(f"the ledger cannot be read: {exc}", 500) from None
        return page(request, "ledger.html", session, page="ledger", view=view)

    # -- reports (5.5.2): results, so the result party's only (5.4.2.3g) ---------------------------
    @app.get("/reports")
    def reports(request: Request) -> Response:
        session = current(request)
        _require_results(session.account.role)
        return page(request, "reports.html", session, page="reports", runs=list_runs(settings.runs), root=settings.runs)

    def named_run(name: str) -> Any:
        try:
            folder = run_folder(settings.runs, name)
        except MedfedError as exc:
            raise _BadRequest(str(exc), 404) from None
        return next((r for r in list_runs(settings.runs) if r.name == name), None), folder

    @app.get("/reports/view/{name:path}")
    def report_view(request: Request, name: str) -> Response:
        session = current(request)
        _require_results(session.account.role)
        run, _ = named_run(name)
        return page(request, "report.html", session, page="reports", run=run)

    @app.get("/runs/{name:path}")
    def report_file(request: Request, name: str) -> Response:
        session = current(request)
        _require_results(session.account.role)
        folder_name, _, file = name.rpartition("/")
        if file != REPORT_FILE:
            raise _BadRequest(f"only {REPORT_FILE} of a run folder is served", 404)
        try:
            # Resolved, links followed, and still inside the runs root.
            body = report_path(settings.runs, folder_name).read_bytes()
        except (MedfedError, OSError):
            raise _BadRequest(f"no run folder {folder_name!r}", 404) from None
        return Response(body, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": _REPORT_CSP})

    return app
