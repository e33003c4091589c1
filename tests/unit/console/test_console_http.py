"""The console over real TLS, driven with httpx: login, sessions, CSRF, roles, pages (5.7.1.1)."""

from __future__ import annotations

import html
import re
import socket
import ssl

import httpx
import pytest

from medfed.console import tls_context
from medfed.console.sessions import COOKIE, LOGIN_COOKIE
from tests.unit.console.console_support import PASSWORD, client, log_in, trust

pytestmark = pytest.mark.clause("5.7.1.1")


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def test_every_page_and_endpoint_needs_a_session(study, console_url):
    with client(study, console_url) as c:
        for path in ("/tasks", "/nodes", "/applications", "/ledger", "/reports", "/tasks/x", "/"):
            response = c.get(path)
            assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
        for path in ("/api/tasks", "/api/nodes", "/api/tasks/x"):
            assert c.get(path).status_code == 401, path
        assert c.post("/tasks", data={"study_text": "x"}).status_code in (303, 401)
        c.cookies.set(COOKIE, "mf1.forged.token")
        assert c.get("/api/tasks").status_code == 401


def test_served_over_tls_1_2_or_later_with_the_dispatchers_certificate(study, console_url):
    assert tls_context(study.dispatcher).minimum_version is ssl.TLSVersion.TLSv1_2
    with pytest.raises(httpx.ConnectError):  # not trusted without the study's CA
        httpx.get(console_url + "/login", verify=True)
    tls12 = trust(study)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    assert httpx.get(console_url + "/login", verify=tls12).status_code == 200
    host, port = console_url.removeprefix("https://").split(":")
    with socket.create_connection((host, int(port))) as raw, trust(study).wrap_socket(raw, server_hostname=host) as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        assert "dispatcher" in str(tls.getpeercert()["subject"])


def test_wrong_password_is_refused_with_a_clear_message(study, console_url):
    with client(study, console_url) as c:
        c.get("/login")
        response = c.post("/login", data={"username": "ines", "password": "not the password",
                                          "login_csrf": c.cookies[LOGIN_COOKIE]})
        assert response.status_code == 401
        assert "Wrong user name or password" in response.text
        assert COOKIE not in c.cookies


def test_login_sets_a_strict_secure_http_only_cookie(study, console_url):
    with client(study, console_url) as c:
        c.get("/login")
        response = c.post("/login", data={"username": "ines", "password": PASSWORD,
                                          "login_csrf": c.cookies[LOGIN_COOKIE]})
        assert response.status_code == 303
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}="))
        # "__Host-": a browser keeps it only when Secure, for Path=/ and with no Domain.
        assert COOKIE.startswith("__Host-")
        attributes = [a.strip().lower() for a in cookie.split(";")[1:]]
        for flag in ("httponly", "secure", "samesite=strict", "path=/"):
            assert flag in attributes, cookie
        assert not [a for a in attributes if a.startswith("domain")]
        assert c.get("/api/tasks").status_code == 200


def test_login_form_needs_its_own_token(study, console_url):
    with client(study, console_url) as c:
        response = c.post("/login", data={"username": "ines", "password": PASSWORD, "login_csrf": "guess"})
        assert response.status_code == 403 and "expired" in response.text


def test_account_locks_after_repeated_failures(study, console_url):
    with client(study, console_url) as c:
        for _ in range(3):
            c.get("/login")
            c.post("/login", data={"username": "lena", "password": "wrong password!",
                                   "login_csrf": c.cookies[LOGIN_COOKIE]})
        c.get("/login")
        response = c.post("/login", data={"username": "lena", "password": PASSWORD,
                                          "login_csrf": c.cookies[LOGIN_COOKIE]})
        assert response.status_code == 401 and "locked" in response.text


@pytest.mark.clause("5.4.2.3c")
def test_posts_need_the_sessions_csrf_token(study, console_url):
    with log_in(study, console_url, "ines") as c:
        page = c.get("/tasks").text
        form = {"source": "demo", "kind": "study", "priority": "1", "name": "csrf-probe"}
        assert c.post("/tasks", data=form).status_code == 403
        assert c.post("/tasks", data={**form, "csrf": "0" * 64}).status_code == 403
        foreign = c.post("/tasks", data={**form, "csrf": _csrf(page)}, headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403
        assert not [t for t in c.get("/api/tasks").json()["tasks"] if t["name"] == "csrf-probe"]
        assert c.post("/tasks", data={**form, "csrf": _csrf(page)}).status_code == 303
        assert [t for t in c.get("/api/tasks").json()["tasks"] if t["name"] == "csrf-probe"]


@pytest.mark.clause("5.4.2.3c")
def test_initiator_launches_inspects_and_cancels_a_task(study, console_url):
    with log_in(study, console_url, "ines") as c:
        token = _csrf(c.get("/tasks").text)
        response = c.post("/tasks", data={"csrf": token, "source": "demo", "kind": "study", "priority": "7",
                                          "name": "launch-probe", "rounds": "2"})
        assert response.status_code == 303
        task = next(t for t in c.get("/api/tasks").json()["tasks"] if t["name"] == "launch-probe")
        assert task["state"] == "queued" and task["priority"] == 7 and task["submitter"] == "ines"
        detail = html.unescape(c.get(f"/tasks/{task['task_id']}").text)
        assert "pneumonia-demo" in detail and '"rounds": 2' in detail
        assert c.post(f"/tasks/{task['task_id']}/cancel", data={"csrf": token}).status_code == 303
        assert c.get(f"/api/tasks/{task['task_id']}").json()["state"] == "cancelled"


def test_a_bad_study_is_refused_with_the_reason_and_the_text_kept(study, console_url):
    with log_in(study, console_url, "ines") as c:
        token = _csrf(c.get("/tasks").text)
        text = "[study]\nid = 'x'\n[training]\nrounds = 0\n"
        response = c.post("/tasks", data={"csrf": token, "source": "custom", "study_text": text, "kind": "study"})
        assert response.status_code == 400
        assert "rounds must be &gt;= 1" in response.text or "rounds must be >= 1" in response.text
        assert "rounds = 0" in response.text  # the form comes back as typed


def test_only_the_initiator_may_launch(study, console_url):
    with log_in(study, console_url, "rita") as c:
        page = c.get("/tasks")
        assert page.status_code == 200 and "Launch a task" not in page.text
        response = c.post("/tasks", data={"csrf": _csrf(page.text), "source": "demo", "kind": "study"})
        assert response.status_code == 403


@pytest.mark.clause("5.5.1.2f")
def test_only_the_hospitals_data_owner_decides_its_application(study, console_url):
    with log_in(study, console_url, "olga") as owner_a, log_in(study, console_url, "ines") as initiator:
        page = owner_a.get("/applications").text
        token = _csrf(page)
        apps = dict(re.findall(r'data-application="(app-[0-9a-f]+)">\s*<td>app-[0-9a-f]+</td><td>(hospital-\w)</td>', page))
        by_hospital = {h: a for a, h in apps.items()}
        assert set(by_hospital) == {"hospital-a", "hospital-b"}
        # The initiator may not decide; the owner of hospital-a may not decide for hospital-b.
        assert initiator.post(f"/applications/{by_hospital['hospital-a']}/approve",
                              data={"csrf": _csrf(initiator.get("/tasks").text)}).status_code == 403
        refused = owner_a.post(f"/applications/{by_hospital['hospital-b']}/approve", data={"csrf": token})
        assert refused.status_code == 403 and "hospital-b" in refused.text
        assert owner_a.post(f"/applications/{by_hospital['hospital-a']}/approve", data={"csrf": token}).status_code == 303
        page = owner_a.get("/applications").text
        assert re.search(rf'{by_hospital["hospital-a"]}.*?status-approved.*?grant-[0-9a-f]+', page, re.S)
    with log_in(study, console_url, "omar") as owner_b:
        token = _csrf(owner_b.get("/applications").text)
        # hospital-b's kit is not on this machine: approval is refused with the fix, denial works.
        refused = owner_b.post(f"/applications/{by_hospital['hospital-b']}/approve", data={"csrf": token})
        assert refused.status_code == 400 and "medfed grant approve" in refused.text
        denied = owner_b.post(f"/applications/{by_hospital['hospital-b']}/deny", data={"csrf": token, "reason": "no"})
        assert denied.status_code == 303
        assert "status-denied" in owner_b.get("/applications").text


@pytest.mark.clause("5.4.2.3i")
def test_ledger_page_lists_entries_and_the_chain_verdict(study, console_url):
    with log_in(study, console_url, "ines") as c:
        page = c.get("/ledger").text
        assert "CLEAN" in page and "study_created" in page and "role_assigned" in page
        assert re.search(r'<td class="digest">[0-9a-f]{64}</td>', page)


def test_nodes_page_and_json(study, console_url):
    with log_in(study, console_url, "ines") as c:
        assert c.get("/api/nodes").json() == {"nodes": []}  # this console runs no worker
        assert "No node has reported yet" in c.get("/nodes").text


def test_run_folders_are_confined_to_the_runs_root(study, console_url):
    with log_in(study, console_url, "rita") as c:  # the result party: the only one served reports
        for path in ("/runs/../users.db", "/runs/..%2F..%2Fkits/report.html", "/runs/x/results.json", "/reports/view/..%2Fkits"):
            assert c.get(path).status_code in (404, 400), path


def test_logout_revokes_the_session(study, console_url):
    with log_in(study, console_url, "rita") as c:
        token = c.cookies[COOKIE]
        assert c.post("/logout", data={"csrf": _csrf(c.get("/tasks").text)}).status_code == 303
    with client(study, console_url) as replay:
        replay.cookies.set(COOKIE, token)
        assert replay.get("/api/tasks").status_code == 401  # the old cookie is refused, not merely forgotten


@pytest.mark.clause("5.4.2.3c")
def test_the_form_offers_only_kinds_it_can_launch(study, console_url):
    with log_in(study, console_url, "ines") as c:
        page = c.get("/tasks").text
        select = re.search(r'<select name="kind" id="kind">(.*?)</select>', page, re.S)
        assert select and re.findall(r"<option[^>]*>(\w+)</option>", select.group(1)) == ["study", "hp_trial"]
        # A fold or an evaluation needs fields this form does not have: refused with where to queue it.
        for kind in ("cv_fold", "evaluation"):
            response = c.post("/tasks", data={"csrf": _csrf(page), "source": "custom", "kind": kind,
                                              "study_text": "[study]\nid = 'kept-text'\n", "name": f"kind-{kind}"})
            assert response.status_code == 400
            assert f"medfed task create --kind {kind}" in html.unescape(response.text)
            assert "kept-text" in response.text  # the form comes back as typed
        assert not [t for t in c.get("/api/tasks").json()["tasks"] if t["name"].startswith("kind-")]


@pytest.mark.clause("5.4.2.3c")
def test_a_console_launched_task_pins_the_study_ca(study, console_url):
    from medfed.orchestration.runs import DEMO_STUDY
    from medfed.pki.identity import certificate_fingerprint
    from medfed.scheduling.sql import open_task_store

    with log_in(study, console_url, "ines") as c:
        token = _csrf(c.get("/tasks").text)
        response = c.post("/tasks", data={"csrf": token, "source": "demo", "kind": "study", "priority": "1",
                                          "name": "pin-probe", "rounds": "1"})
        assert response.status_code == 303
        # A study of its own (another id): this console holds no CA of that study to pin.
        other = DEMO_STUDY.read_text(encoding="utf-8").replace('id = "', 'id = "other-', 1)
        response = c.post("/tasks", data={"csrf": _csrf(c.get("/tasks").text), "source": "custom", "kind": "study",
                                          "priority": "1", "name": "other-probe", "study_text": other})
        assert response.status_code == 303
    store = open_task_store(study.root / "idle-tasks.db")
    try:
        tasks = {t.spec.name: t for t in store.list()}
    finally:
        store.close()
    pinned = certificate_fingerprint((study.dispatcher / "ca.pem").read_bytes())
    assert tasks["pin-probe"].spec.study_ca_sha256 == pinned
    assert tasks["other-probe"].spec.study_ca_sha256 is None
