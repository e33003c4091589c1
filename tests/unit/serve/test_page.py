"""The clinician's page in a real headless Chromium (clause 5.7.1.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

import medfed_runtime

from .conftest import PASSWORD, USER, Service

pytestmark = [pytest.mark.clause("5.7.1.1", "5.7.2.1"), pytest.mark.slow]


@pytest.fixture
def page(chromium, service: Service):
    # The study CA is not in Chromium's trust store; the API tests check the certificate chain.
    context = chromium.new_context(ignore_https_errors=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


def _log_in(page, url: str, password: str) -> None:
    page.goto(url + "/")
    page.locator("#login").wait_for(state="visible")
    page.fill("#username", USER)
    page.fill("#password", password)
    page.click("#login-button")


def test_clinician_uploads_png_and_dicom_and_sees_the_sdk_prediction(
    page, service: Service, sdk: medfed_runtime.Bundle, images: dict[str, bytes], tmp_path: Path
) -> None:
    _log_in(page, service.url, PASSWORD)
    page.locator("#workspace").wait_for(state="visible")
    page.reload()  # the session survives a reload, in its HttpOnly cookie
    page.locator("#workspace").wait_for(state="visible")
    assert page.inner_text("#who") == USER
    # The model card: study, version, date and metrics from the signed descriptor.
    card = sdk.descriptor
    summary = page.inner_text("#card-summary")
    for value in (card["study_id"], card["model_version"], card["created_at"]):
        assert value in summary
    assert "test.auc" in page.inner_text("#card-metrics")
    for name, suffix in (("png-1", "png"), ("png-2", "png"), ("dicom-5", "dcm")):
        image = tmp_path / f"{name}.{suffix}"
        image.write_bytes(images[name])
        page.set_input_files("#image", str(image))
        page.click("#predict-button")
        page.locator("#result").wait_for(state="visible")
        expected = sdk.predict(images[name])
        assert page.inner_text("#predicted-label") == expected.label
        rows = page.locator("#probabilities tbody tr")
        shown = {
            rows.nth(i).get_attribute("data-label"): float(
                rows.nth(i).get_attribute("data-probability")
            )
            for i in range(rows.count())
        }
        assert shown.keys() == expected.probabilities.keys()
        for label, p in expected.probabilities.items():
            assert shown[label] == pytest.approx(p, abs=1e-9)
            bar = page.locator(f'#probabilities tr[data-label="{label}"] .bar')
            assert float(bar.get_attribute("aria-valuenow")) == pytest.approx(p, abs=1e-9)
        assert page.is_hidden("#predict-error")


def test_an_invalid_file_shows_a_clear_message(page, service: Service, tmp_path: Path) -> None:
    _log_in(page, service.url, PASSWORD)
    page.locator("#workspace").wait_for(state="visible")
    bogus = tmp_path / "report.png"
    bogus.write_bytes(b"this is a text file, not a scan")
    page.set_input_files("#image", str(bogus))
    page.click("#predict-button")
    error = page.locator("#predict-error")
    error.wait_for(state="visible")
    message = error.inner_text()
    assert "Cannot classify report.png" in message
    assert "expected a PNG, JPEG or DICOM file" in message
    assert page.is_hidden("#result")


def test_a_wrong_password_is_refused_on_the_page(page, service: Service) -> None:
    _log_in(page, service.url, "a wrong password entirely")
    error = page.locator("#login-error")
    error.wait_for(state="visible")
    assert "Login refused: invalid user name or password" in error.inner_text()
    assert page.is_hidden("#workspace")
    assert page.context.cookies() == []
