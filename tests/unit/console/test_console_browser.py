"""The console in a real headless Chromium: the initiator launches a study and watches it finish;
the result party opens its result and report."""

from __future__ import annotations

import re

import pytest

from medfed.console import running_console
from medfed.console.sessions import COOKIE
from medfed.orchestration.runs import DEMO_STUDY
from tests.unit.console.console_support import PASSWORD, settings_for


@pytest.fixture(scope="module")
def working_console(study, medmnist_dir):
    """A console with its local worker: a launched task runs to the end in this process."""
    with running_console(settings_for(study, "busy", worker=True, data_dir=medmnist_dir)) as url:
        yield url


@pytest.mark.slow
@pytest.mark.clause("5.7.1.1")
@pytest.mark.clause("5.4.2.3c")
@pytest.mark.clause("5.4.2.3d")
@pytest.mark.clause("5.5.2-1")
@pytest.mark.clause("5.4.2.3g")
def test_browser_initiator_launches_and_result_party_opens_the_report(chromium, working_console):
    context = chromium.new_context(ignore_https_errors=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(working_console + "/tasks")
        assert page.url.startswith(working_console + "/login")

        page.fill("#username", "ines")
        page.fill("#password", "a wrong password")
        page.click("#login")
        assert "Wrong user name or password" in page.inner_text("#error")
        assert not [c for c in context.cookies() if c["name"] == COOKIE]

        page.fill("#username", "ines")
        page.fill("#password", PASSWORD)
        page.click("#login")
        page.wait_for_url(working_console + "/tasks")
        session = next(c for c in context.cookies() if c["name"] == COOKIE)
        assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Strict"

        # Launch the demo study, one round.
        page.select_option("#source", "custom")
        page.fill("#study_text", DEMO_STUDY.read_text(encoding="utf-8"))
        page.fill("#name", "browser-run")
        page.fill("#rounds", "1")
        page.fill("#priority", "5")
        page.click("#submit-task")
        row = page.locator("tr[data-task]", has_text="browser-run")
        assert row.count() == 1
        # The row changes without any reload of ours: the page polls the JSON endpoint.
        page.wait_for_function(
            """() => [...document.querySelectorAll('tr[data-task]')]
                 .some(r => r.textContent.includes('browser-run')
                         && ['running', 'succeeded'].includes(r.querySelector('[data-field=state]').textContent.trim()))""",
            timeout=30_000,
        )
        page.wait_for_function(
            """() => [...document.querySelectorAll('tr[data-task]')]
                 .some(r => r.textContent.includes('browser-run')
                         && r.querySelector('[data-field=state]').textContent.trim() === 'succeeded')""",
            timeout=90_000,
        )
        row = page.locator("tr[data-task]", has_text="browser-run")
        assert row.locator("progress").get_attribute("value") in ("1", "1.0")
        assert row.locator("[data-field=node]").inner_text() == "busy-node"

        # The initiator sees the task's state and assignment, but not its result (5.4.2.3g).
        assert row.locator(".report-link").count() == 0
        row.locator("a", has_text="browser-run").click()
        assert page.inner_text("#task-state") == "succeeded"
        assert page.locator("#result").count() == 0 and page.locator("#report-link").count() == 0
        assert "result party only" in page.inner_text("#result-withheld")
        assert page.locator("nav a", has_text="Reports").count() == 0
        task_url = page.url

        # The result party sees the result and opens the report.
        page.click("button:has-text('Log out')")
        page.wait_for_url(working_console + "/login")
        page.goto(task_url)
        page.fill("#username", "rita")
        page.fill("#password", PASSWORD)
        page.click("#login")
        page.wait_for_url(task_url)
        assert page.inner_text("#task-state") == "succeeded"
        assert '"rounds": 1' in page.inner_text("#result")
        page.click("#report-link")
        assert re.search(r"/runs/[0-9a-f]+/run/report\.html$", page.url)
        assert page.locator("svg").count() >= 2  # the plots are in the report itself
        assert "pneumonia-demo" in page.content()
        assert "Success criteria" in page.content()  # the goal assessment travels with the report

        # The Reports page lists the run and shows its report inline.
        page.goto(working_console + "/reports")
        page.locator("#reports a").first.click()
        frame = page.frame_locator("iframe.report")
        assert frame.locator("svg").count() >= 2

        # The Nodes page shows the local worker.
        page.goto(working_console + "/nodes")
        nodes = page.inner_text("#nodes")
        assert "busy-node" in nodes and "live" in nodes
        assert not errors, errors
    finally:
        context.close()
