"""Hostile requests get a JSON refusal, never a 500 text page; logout and resets end sessions."""

from __future__ import annotations

import io
import logging
import ssl
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydicom import dcmread
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000Lossless

from medfed.authn import AuthenticationError
from medfed.deployment.serve import TlsFiles, create_app, load_bundle_model, start_service
from medfed.deployment.serve.app import CSRF_HEADER, MAX_LOGIN_BYTES, SESSION_COOKIE

from .conftest import PASSWORD, USER, Service, Study, auth_for, dicom_bytes

pytestmark = pytest.mark.clause("5.7.1.1", "5.7.2.1")


def _png_header_claiming(width: int, height: int) -> bytes:
    """A small valid PNG whose header claims ``width``×``height`` grey pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _assert_json_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    return error


def _login(base: str, trust: ssl.SSLContext) -> str:
    response = httpx.post(
        f"{base}/api/v1/login",
        json={"username": USER, "password": PASSWORD},
        headers={CSRF_HEADER: "1"},
        verify=trust,
    )
    assert response.status_code == 200, response.text
    return response.cookies[SESSION_COOKIE]


def _session_with_cookie(base: str, trust: ssl.SSLContext, cookie: str) -> httpx.Response:
    return httpx.get(f"{base}/api/v1/session", cookies={SESSION_COOKIE: cookie}, verify=trust)


def _session_with_bearer(base: str, trust: ssl.SSLContext, token: str) -> httpx.Response:
    return httpx.get(
        f"{base}/api/v1/session", headers={"Authorization": f"Bearer {token}"}, verify=trust
    )


# --- images that would be decompression bombs or crash the decoder ---------------------


def test_png_bomb_header_is_a_json_413(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/predict",
        content=_png_header_claiming(20000, 20000),
        headers={"content-type": "image/png"},
    )
    error = _assert_json_error(response, 413, "image_too_large")
    assert "too large" in error["message"] or "more than the limit" in error["message"]


def test_png_of_8000_squared_pixels_is_refused_with_413(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/predict",
        content=_png_header_claiming(8000, 8000),
        headers={"content-type": "image/png"},
    )
    error = _assert_json_error(response, 413, "image_too_large")
    assert "8000x8000" in error["message"]


def test_jpeg2000_dicom_with_unreadable_pixels_is_a_json_415(
    client: httpx.Client, test_pixels
) -> None:
    ds = dcmread(io.BytesIO(dicom_bytes(test_pixels[1])))
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    ds.PixelData = encapsulate([b"\x00" * 100])
    ds["PixelData"].VR = "OB"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    response = client.post(
        "/api/v1/predict", content=out.getvalue(), headers={"content-type": "application/dicom"}
    )
    error = _assert_json_error(response, 415, "unsupported_image")
    assert "pixel data cannot be read" in error["message"]


# --- the login endpoint: small bodies only, any JSON refused cleanly ----------------------


def test_deeply_nested_login_json_is_a_json_400(service: Service, trust: ssl.SSLContext) -> None:
    depth = (MAX_LOGIN_BYTES - 2) // 2  # fits the size limit, still deeper than the parser goes
    response = httpx.post(
        f"{service.url}/api/v1/login",
        content=b"[" * depth + b"]" * depth,
        headers={CSRF_HEADER: "1"},
        verify=trust,
    )
    _assert_json_error(response, 400, "bad_request")


def test_login_body_above_4_kib_is_refused_with_413(
    service: Service, trust: ssl.SSLContext
) -> None:
    huge = httpx.post(
        f"{service.url}/api/v1/login",
        content=b" " * (2 * 2**20) + b"{}",
        headers={CSRF_HEADER: "1"},
        verify=trust,
        timeout=30,
    )
    _assert_json_error(huge, 413, "upload_too_large")

    def undeclared() -> Iterator[bytes]:  # chunked: no Content-Length to refuse up front
        for _ in range(4):
            yield b" " * 2048

    chunked = httpx.post(
        f"{service.url}/api/v1/login",
        content=undeclared(),
        headers={CSRF_HEADER: "1"},
        verify=trust,
    )
    error = _assert_json_error(chunked, 413, "upload_too_large")
    assert str(MAX_LOGIN_BYTES) in error["message"]
    # A normal login still fits.
    assert _login(service.url, trust)


# --- logout and password resets end sessions --------------------------------------------


def test_logout_with_a_bearer_token_revokes_that_token(
    service: Service, trust: ssl.SSLContext
) -> None:
    token = service.auth.issue_api_token("logout-client")
    assert _session_with_bearer(service.url, trust, token).status_code == 200
    logout = httpx.post(
        f"{service.url}/api/v1/logout",
        headers={"Authorization": f"Bearer {token}"},
        verify=trust,
    )
    assert logout.status_code == 200 and logout.json() == {"logged_out": True}
    replay = _session_with_bearer(service.url, trust, token)
    assert replay.status_code == 401 and "revoked" in replay.json()["error"]["message"]


def test_logout_with_a_bearer_token_and_a_garbage_cookie_is_not_a_500(
    service: Service, trust: ssl.SSLContext
) -> None:
    token = service.auth.issue_api_token("logout-client-2")
    logout = httpx.post(
        f"{service.url}/api/v1/logout",
        headers={"Authorization": f"Bearer {token}"},
        cookies={SESSION_COOKIE: "garbage"},
        verify=trust,
    )
    assert logout.status_code == 200, logout.text
    assert _session_with_bearer(service.url, trust, token).status_code == 401
    # The service's own API token, which authenticated nothing here, still works.
    assert _session_with_bearer(service.url, trust, service.token).status_code == 200


def test_password_reset_ends_existing_sessions_of_that_user(
    service: Service, trust: ssl.SSLContext
) -> None:
    before = _login(service.url, trust)
    assert _session_with_cookie(service.url, trust, before).status_code == 200
    service.auth.enrol(USER, PASSWORD)  # a reset (to the same password, for the other tests)
    stale = _session_with_cookie(service.url, trust, before)
    assert stale.status_code == 401 and "password reset" in stale.json()["error"]["message"]
    # A login right after the reset, even within the same second, yields a live session.
    after = _login(service.url, trust)
    assert _session_with_cookie(service.url, trust, after).status_code == 200
    assert _session_with_bearer(service.url, trust, service.token).status_code == 200


def test_password_reset_from_another_process_reaches_the_service(
    tmp_path: Path, study: Study
) -> None:
    serving = auth_for(tmp_path, study.service_kit.study_id)
    command_line = auth_for(tmp_path, study.service_kit.study_id)  # e.g. `medfed serve user`
    try:
        serving.enrol("nurse", "first password, long enough")
        token = serving.login("nurse", "first password, long enough")
        assert serving.verify(token).subject == "nurse"
        command_line.enrol("nurse", "second password, long enough")
        with pytest.raises(AuthenticationError, match="password reset"):
            serving.verify(token)
        assert serving.verify(serving.login("nurse", "second password, long enough"))
    finally:
        command_line.close()
        serving.close()


# --- anything unexpected: JSON 500 without internals, traceback in the log ----------------


def test_unexpected_error_is_a_json_500_and_the_traceback_is_logged(
    study: Study, trust: ssl.SSLContext, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    auth = auth_for(tmp_path, study.service_kit.study_id)
    token = auth.issue_api_token("client")
    app = create_app(load_bundle_model(study.bundle, trusted_ca=study.ca), auth)
    auth.close()  # the authentication store is gone: verifying a token fails unexpectedly
    running = start_service(app, TlsFiles.from_kit(study.service_kit), host="127.0.0.1", port=0)
    try:
        with caplog.at_level(logging.ERROR, logger="medfed.deployment.serve.app"):
            response = _session_with_bearer(running.url, trust, token)
    finally:
        running.stop()
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    error = response.json()["error"]
    assert error["code"] == "internal"
    assert "database" not in error["message"].lower()  # no internals in the answer
    logged = [r for r in caplog.records if r.exc_info is not None]
    assert logged and "closed database" in str(logged[0].exc_info[1])
