"""Fuzzing the console's HTTP surface (5.5.1.1e hostile input): anonymous and logged-in requests with
malformed, wrong-typed and oversized forms get a clear 4xx or a redirect, never a 500; the console keeps
serving and its task list is intact afterwards."""

from __future__ import annotations

import re

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.console.console_support import client, log_in

pytestmark = pytest.mark.clause("5.5.1.1e", "5.7.1.1")

_PATHS = ["/login", "/logout", "/", "/tasks", "/tasks/x", "/tasks/x/cancel", "/api/tasks", "/api/tasks/x",
          "/nodes", "/api/nodes", "/applications", "/applications/x/approve", "/applications/x/deny",
          "/ledger", "/reports", "/reports/view/x", "/runs/x/report.html"]
_FIELDS = ["username", "password", "login_csrf", "csrf", "study_text", "example", "kind", "name", "priority",
           "rounds", "reason", "next"]
_TYPES = ["application/x-www-form-urlencoded", "application/json", "multipart/form-data; boundary=b",
          "text/plain", ""]


def _form() -> st.SearchStrategy[bytes]:
    value = st.one_of(st.text(max_size=40), st.integers().map(str), st.just("[" * 300), st.just("\x00"))
    pairs = st.dictionaries(st.sampled_from(_FIELDS), value, max_size=6)
    return st.one_of(
        pairs.map(lambda d: httpx.QueryParams(d).__str__().encode()),
        st.binary(max_size=300),
    )


def _csrf_of(c: httpx.Client) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', c.get("/tasks").text)
    return match.group(1) if match else ""


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    path=st.one_of(st.sampled_from(_PATHS), st.text(min_size=1, max_size=30).map(lambda t: "/" + t)),
    content_type=st.sampled_from(_TYPES),
    body=_form(),
    logged_in=st.booleans(),
    with_csrf=st.booleans(),
)
def test_no_request_makes_the_console_fail(
    study, console_url, method: str, path: str, content_type: str, body: bytes, logged_in: bool,
    with_csrf: bool,
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    if logged_in:
        with log_in(study, console_url, "ines") as c:
            if with_csrf and method == "POST":
                body = body + b"&csrf=" + _csrf_of(c).encode()
            response = _send(c, method, path, body, headers)
    else:
        with client(study, console_url) as c:
            response = _send(c, method, path, body, headers)
    if response is not None:
        assert response.status_code < 500, (method, path, response.status_code, response.text[:300])


def _send(c: httpx.Client, method: str, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response | None:
    try:
        return c.request(method, path, content=body, headers=headers)
    except httpx.InvalidURL:
        return None  # the client refused to send it at all


def test_after_the_fuzzing_the_console_still_serves_its_pages(study, console_url) -> None:
    with log_in(study, console_url, "ines") as c:
        assert c.get("/tasks").status_code == 200
        assert c.get("/api/tasks").status_code == 200
        assert c.get("/ledger").status_code == 200
