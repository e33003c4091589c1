"""Fuzzing the inference service's HTTP API (5.5.1.1 hostile input): every malformed, wrong-typed,
truncated or unauthenticated request gets a clear 4xx, never a 500, and the service keeps serving."""

from __future__ import annotations

import ssl

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Service

pytestmark = pytest.mark.clause("5.5.1.1e", "5.7.2.1")

_PATHS = ["/api/v1/predict", "/api/v1/model", "/api/v1/login", "/api/v1/logout", "/api/v1/session",
          "/healthz", "/readyz", "/openapi.json", "/", "/static/app.js"]
_TYPES = ["application/json", "multipart/form-data; boundary=x", "multipart/form-data", "image/png",
          "application/dicom", "text/plain", "application/octet-stream", "", "multipart/form-data; boundary="]


def _bodies() -> st.SearchStrategy[bytes]:
    multipart = st.builds(
        lambda name, data, tail: (
            b"--x\r\nContent-Disposition: form-data; name=\"" + name + b"\"; filename=\"a.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + data + tail
        ),
        st.sampled_from([b"file", b"image", b"", b"\xff"]),
        st.binary(max_size=256),
        st.sampled_from([b"\r\n--x--\r\n", b"", b"\r\n--y--", b"\r\n--x"]),
    )
    json_like = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=10,
    ).map(lambda v: repr(v).encode())
    png_prefix = st.binary(max_size=64).map(lambda b: b"\x89PNG\r\n\x1a\n" + b)
    return st.one_of(st.binary(max_size=512), multipart, json_like, png_prefix)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    path=st.one_of(st.sampled_from(_PATHS), st.text(min_size=1, max_size=30).map(lambda t: "/api/v1/" + t)),
    content_type=st.sampled_from(_TYPES),
    body=_bodies(),
    authorised=st.booleans(),
    csrf=st.booleans(),
)
def test_no_request_makes_the_service_fail(
    service: Service, trust: ssl.SSLContext, method: str, path: str, content_type: str, body: bytes,
    authorised: bool, csrf: bool,
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    if authorised:  # a token of its own: a fuzzed logout may revoke it
        headers["Authorization"] = f"Bearer {service.auth.issue_api_token('fuzz')}"
    if csrf:
        headers["X-Medfed-CSRF"] = "1"
    try:
        response = httpx.request(method, service.url + path, content=body, headers=headers, verify=trust,
                                 timeout=30)
    except httpx.InvalidURL:
        return  # the client refused to send it at all
    assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
    if path.startswith("/api/") and response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json"), response.text[:300]
        assert response.json()["error"]["message"]


def test_after_the_fuzzing_the_service_still_answers_correctly(
    service: Service, trust: ssl.SSLContext, images: dict[str, bytes], sdk
) -> None:
    assert httpx.get(service.url + "/readyz", verify=trust).status_code == 200
    png = images["png-0"]
    response = httpx.post(
        service.url + "/api/v1/predict",
        files={"file": ("x.png", png, "image/png")},
        headers={"Authorization": f"Bearer {service.token}"},
        verify=trust,
    )
    assert response.status_code == 200, response.text
    assert response.json()["label"] == sdk.predict(png).label
