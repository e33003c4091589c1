"""The REST API of the inference service over real TLS (clauses 5.7.1.1, 5.7.2.1)."""

from __future__ import annotations

import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

import medfed_runtime
from medfed.deployment.serve import (
    ServiceSettings,
    TlsFiles,
    create_app,
    load_bundle_model,
    start_service,
)
from medfed.deployment.serve.app import CSRF_HEADER, SESSION_COOKIE

from .conftest import MAX_UPLOAD_BYTES, PASSWORD, USER, Service, Study, auth_for, png_bytes

pytestmark = pytest.mark.clause("5.7.1.1", "5.7.2.1")


def _predict(
    client: httpx.Client, name: str, data: bytes, content_type: str = "image/png"
) -> httpx.Response:
    return client.post("/api/v1/predict", files={"file": (name, data, content_type)})


def _assert_same(answer: dict, expected: medfed_runtime.Prediction) -> None:
    assert (answer["index"], answer["label"]) == (expected.index, expected.label)
    assert answer["probabilities"].keys() == expected.probabilities.keys()
    for label, p in expected.probabilities.items():
        assert answer["probabilities"][label] == pytest.approx(p, abs=1e-9)


def test_prediction_equals_the_sdk_for_png_jpeg_and_dicom(
    client: httpx.Client, sdk: medfed_runtime.Bundle, images: dict[str, bytes]
) -> None:
    labels = set()
    for name, data in images.items():
        response = _predict(client, name, data, "application/octet-stream")
        assert response.status_code == 200, response.text
        answer = response.json()
        _assert_same(answer, sdk.predict(data))
        assert answer["model"]["version"] == sdk.descriptor["model_version"]
        assert answer["model"]["study_id"] == sdk.descriptor["study_id"]
        labels.add(answer["label"])
    # Different images, different probabilities: the service does not answer a constant.
    assert (
        len(
            {
                round(_predict(client, n, d).json()["probabilities"]["pneumonia"], 9)
                for n, d in images.items()
            }
        )
        > 1
    )


def test_raw_image_body_is_accepted_too(
    client: httpx.Client, sdk: medfed_runtime.Bundle, images: dict[str, bytes]
) -> None:
    data = images["png-0"]
    response = client.post("/api/v1/predict", content=data, headers={"Content-Type": "image/png"})
    assert response.status_code == 200, response.text
    _assert_same(response.json(), sdk.predict(data))


def test_concurrent_requests_all_get_their_own_answer(
    client: httpx.Client, sdk: medfed_runtime.Bundle, images: dict[str, bytes]
) -> None:
    jobs = [name for name in images for _ in range(4)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda n: _predict(client, n, images[n]), jobs))
    for name, response in zip(jobs, answers, strict=True):
        assert response.status_code == 200
        _assert_same(response.json(), sdk.predict(images[name]))


def test_model_card_is_the_signed_descriptor(
    client: httpx.Client, sdk: medfed_runtime.Bundle
) -> None:
    card = client.get("/api/v1/model").json()
    assert card == sdk.descriptor
    assert card["postprocessing"]["class_names"] == ["normal", "pneumonia"]
    assert "test" in card["metrics"]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-token", "Basic Y2xpbmljaWFuOnB3", "Bearer"],
    ids=["missing", "garbage", "wrong-scheme", "empty"],
)
def test_requests_without_a_valid_token_are_refused_with_401(
    service: Service, trust: ssl.SSLContext, images: dict[str, bytes], authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    with httpx.Client(base_url=service.url, verify=trust, headers=headers) as anonymous:
        for response in (
            anonymous.get("/api/v1/model"),
            _predict(anonymous, "x.png", images["png-0"]),
        ):
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer")
            error = response.json()["error"]
            assert error["code"] == "authn" and (
                "token" in error["message"] or "Bearer" in error["message"]
            )


def test_tampered_expired_and_other_key_tokens_are_refused(
    service: Service, study: Study, trust: ssl.SSLContext, tmp_path
) -> None:
    head, payload, tag = service.token.split(".")
    flipped = head + "." + payload + "." + ("A" if tag[0] != "A" else "B") + tag[1:]
    long_ago = auth_for(
        service.state_dir, study.service_kit.study_id, clock=lambda: time.time() - 7200
    )
    expired = long_ago.issue_api_token("api-client", ttl_s=60)
    long_ago.close()
    stranger = auth_for(tmp_path, study.service_kit.study_id)  # another service's key
    foreign = stranger.issue_api_token("api-client")
    stranger.close()
    for token, reason in ((flipped, "integrity"), (expired, "expired"), (foreign, "integrity")):
        response = httpx.get(
            f"{service.url}/api/v1/model",
            headers={"Authorization": f"Bearer {token}"},
            verify=trust,
        )
        assert response.status_code == 401
        assert reason in response.json()["error"]["message"]


def test_oversized_upload_is_refused_with_413(client: httpx.Client) -> None:
    big = png_bytes(np.random.default_rng(0).integers(0, 256, (400, 400), dtype=np.uint8))
    assert len(big) > MAX_UPLOAD_BYTES
    response = _predict(client, "big.png", big)
    assert response.status_code == 413
    assert "exceeds the limit of 65536 bytes" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("data", "status", "phrase"),
    [
        (b"%PDF-1.4 this is not an image", 415, "expected a PNG, JPEG or DICOM file"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, 415, "cannot be decoded"),
        (b"", 400, "empty"),
    ],
    ids=["pdf", "truncated-png", "empty"],
)
def test_invalid_files_are_refused_with_a_clear_message(
    client: httpx.Client, data: bytes, status: int, phrase: str
) -> None:
    response = _predict(client, "scan.png", data)
    assert response.status_code == status
    assert phrase in response.json()["error"]["message"]


def test_form_without_the_file_field_is_a_clear_400(
    client: httpx.Client, images: dict[str, bytes]
) -> None:
    response = client.post(
        "/api/v1/predict", files={"image": ("a.png", images["png-0"], "image/png")}
    )
    assert response.status_code == 400
    assert "no field named 'file'" in response.json()["error"]["message"]
    response = client.post("/api/v1/predict", json={"file": "abc"})
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["error"]["message"]


def test_health_readiness_and_openapi(client: httpx.Client, sdk: medfed_runtime.Bundle) -> None:
    assert client.get("/healthz").json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "model_version": sdk.descriptor["model_version"]}
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path, method in (
        ("/api/v1/predict", "post"),
        ("/api/v1/model", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/api/v1/login", "post"),
    ):
        assert method in paths[path], path
    upload = paths["/api/v1/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert upload["schema"]["properties"]["file"]["format"] == "binary"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_older_than_1_2_is_refused(service: Service, study: Study) -> None:
    old = ssl.create_default_context(cafile=str(study.ca))
    try:
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError):
        pytest.skip("this OpenSSL cannot even offer TLS 1.1")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{service.url}/healthz", verify=old)
    modern = ssl.create_default_context(cafile=str(study.ca))
    modern.maximum_version = ssl.TLSVersion.TLSv1_2
    assert httpx.get(f"{service.url}/healthz", verify=modern).status_code == 200


def test_untrusted_clients_cannot_verify_the_service(service: Service) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{service.url}/healthz")  # the public CA bundle does not know the study CA


def test_session_cookie_needs_the_csrf_header_and_logout_revokes_it(
    service: Service, trust: ssl.SSLContext, images: dict[str, bytes]
) -> None:
    with httpx.Client(base_url=service.url, verify=trust) as browser:
        refused = browser.post("/api/v1/login", json={"username": USER, "password": PASSWORD})
        assert refused.status_code == 403  # a cross-site form cannot set the header
        login = browser.post(
            "/api/v1/login",
            json={"username": USER, "password": PASSWORD},
            headers={CSRF_HEADER: "1"},
        )
        assert login.status_code == 200
        cookie = login.headers["set-cookie"]
        for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
            assert attribute.lower() in cookie.lower()
        session = browser.cookies[SESSION_COOKIE]
        assert browser.get("/api/v1/model").status_code == 200
        files = {"file": ("a.png", images["png-0"], "image/png")}
        no_header = browser.post("/api/v1/predict", files=files)
        assert no_header.status_code == 403 and CSRF_HEADER in no_header.json()["error"]["message"]
        assert (
            browser.post("/api/v1/predict", files=files, headers={CSRF_HEADER: "1"}).status_code
            == 200
        )
        assert browser.post("/api/v1/logout", headers={CSRF_HEADER: "1"}).status_code == 200
    replay = httpx.get(
        f"{service.url}/api/v1/model", cookies={SESSION_COOKIE: session}, verify=trust
    )
    assert replay.status_code == 401 and "revoked" in replay.json()["error"]["message"]


def test_wrong_password_is_refused(service: Service, trust: ssl.SSLContext) -> None:
    response = httpx.post(
        f"{service.url}/api/v1/login",
        json={"username": USER, "password": "not the password"},
        headers={CSRF_HEADER: "1"},
        verify=trust,
    )
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "invalid user name or password"
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


class _SlowToWarm:
    """The real bundle model, whose warm-up waits until the test lets it go."""

    def __init__(self, inner, gate: threading.Event) -> None:
        self._inner, self._gate = inner, gate
        self.card = inner.card

    def predict(self, image: bytes):
        return self._inner.predict(image)

    def warm_up(self) -> None:
        self._gate.wait(30)
        self._inner.warm_up()


def test_not_ready_until_the_warm_up_prediction_ran(
    study: Study, trust: ssl.SSLContext, tmp_path, images
) -> None:
    gate = threading.Event()
    auth = auth_for(tmp_path, study.service_kit.study_id)
    model = _SlowToWarm(load_bundle_model(study.bundle, trusted_ca=study.ca), gate)
    running = start_service(
        create_app(model, auth, ServiceSettings()), TlsFiles.from_kit(study.service_kit)
    )
    try:
        assert httpx.get(f"{running.url}/healthz", verify=trust).status_code == 200
        waiting = httpx.get(f"{running.url}/readyz", verify=trust)
        assert waiting.status_code == 503 and "warming up" in waiting.json()["reason"]
        early = httpx.post(
            f"{running.url}/api/v1/predict",
            files={"file": ("a.png", images["png-0"], "image/png")},
            headers={"Authorization": f"Bearer {auth.issue_api_token('c')}"},
            verify=trust,
        )
        assert early.status_code == 503 and early.headers["retry-after"] == "1"
        gate.set()
        deadline = time.monotonic() + 10
        while httpx.get(f"{running.url}/readyz", verify=trust).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        gate.set()
        running.stop()
        auth.close()


def test_upload_far_above_the_limit_is_cut_short_with_413(client: httpx.Client) -> None:
    response = _predict(client, "huge.dcm", bytes(4 * 2**20), "application/dicom")
    assert response.status_code == 413
    assert response.json()["error"]["message"] == "the upload exceeds the limit of 65536 bytes"
