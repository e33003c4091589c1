"""Only the result party sees a task's result and the run reports (5.4.2.3g); reports are read
only from inside the runs folder, links resolved."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from medfed.console import running_console
from medfed.console.reports import list_runs, report_path, run_folder
from medfed.errors import ConfigError
from medfed.orchestration.runs import DEMO_STUDY
from medfed.scheduling import Scheduler, TaskSpec, open_task_store
from tests.unit.console.console_support import log_in, settings_for

MARKER = "RESULT-PAYLOAD-7f3a"
REPORT = "<html><body>the report of the finished run</body></html>"


@dataclass(frozen=True)
class Finished:
    url: str
    task_id: str
    report_url: str
    linked_report_url: str


@pytest.fixture(scope="module")
def finished(study) -> Iterator[Finished]:
    """A console (no worker) whose store holds one succeeded task with a run folder, and a
    second run folder whose report.html links to a file outside the runs folder."""
    settings = settings_for(study, "results", worker=False)
    run_dir = settings.runs / "task-1" / "run"
    run_dir.mkdir(parents=True)
    (run_dir / "report.html").write_text(REPORT, encoding="utf-8")
    secret = study.root / "outside-report.html"
    secret.write_text("OUTSIDE-THE-RUNS-FOLDER", encoding="utf-8")
    (settings.runs / "linked").mkdir()
    (settings.runs / "linked" / "report.html").symlink_to(secret)

    scheduler = Scheduler(open_task_store(settings.store))
    scheduler.heartbeat("results-node", capacity=1, load=0, datasets=[])
    task = scheduler.submit(
        TaskSpec(kind="study", name="finished", study_toml=DEMO_STUDY.read_text(encoding="utf-8"), params={"rounds": 1}),
        "ines",
    )
    assert scheduler.next_for("results-node").task_id == task.task_id
    result = {"metrics": {"auc": 0.91, "ks": 0.5, "accuracy": 0.8}, "rounds": 1, "run_dir": str(run_dir), "note": MARKER}
    assert scheduler.complete(task.task_id, "results-node", result).state.value == "succeeded"
    scheduler.store.close()
    with running_console(settings) as url:
        yield Finished(url, task.task_id, "/runs/task-1/run/report.html", "/runs/linked/report.html")


@pytest.mark.clause("5.4.2.3g")
@pytest.mark.parametrize("viewer", ["ines", "olga"])
def test_other_roles_see_the_state_but_not_the_result(study, finished, viewer):
    with log_in(study, finished.url, viewer) as c:
        detail = c.get(f"/tasks/{finished.task_id}")
        assert detail.status_code == 200
        page = html.unescape(detail.text)
        assert 'id="task-state">succeeded<' in page and "results-node" in page  # state and assignment
        assert MARKER not in page and "0.91" not in page and 'id="result"' not in page
        assert finished.report_url not in page and "result party only" in page
        listing = c.get("/tasks").text
        assert finished.report_url not in listing and 'href="/reports"' not in listing
        assert c.get(f"/api/tasks/{finished.task_id}").json()["report_url"] is None
        assert all(t["report_url"] is None for t in c.get("/api/tasks").json()["tasks"])
        for path in (finished.report_url, "/reports", "/reports/view/task-1/run"):
            refused = c.get(path)
            assert refused.status_code == 403, path
            assert "REPORT" not in refused.text and "the finished run" not in refused.text


@pytest.mark.clause("5.4.2.3g")
def test_the_result_party_sees_the_result_and_opens_the_report(study, finished):
    with log_in(study, finished.url, "rita") as c:
        page = html.unescape(c.get(f"/tasks/{finished.task_id}").text)
        assert MARKER in page and '"auc": 0.91' in page
        assert f'href="{finished.report_url}"' in page
        assert c.get(f"/api/tasks/{finished.task_id}").json()["report_url"] == finished.report_url
        report = c.get(finished.report_url)
        assert report.status_code == 200 and report.text == REPORT
        assert "sandbox" in report.headers["content-security-policy"]
        assert "task-1/run" in c.get("/reports").text


def test_a_linked_report_outside_the_runs_folder_is_not_served(study, finished):
    with log_in(study, finished.url, "rita") as c:
        response = c.get(finished.linked_report_url)
        assert response.status_code == 404 and "OUTSIDE-THE-RUNS-FOLDER" not in response.text
        assert "linked" not in c.get("/reports").text
        assert c.get("/reports/view/linked").status_code == 404


def test_run_files_are_resolved_inside_the_runs_root(tmp_path: Path):
    root = tmp_path / "runs"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "report.html").write_text("secret")
    (outside / "results.json").write_text('{"study": {"id": "leaked"}, "federated": {"auc": 0.99}}')
    (root / "good").mkdir(parents=True)
    (root / "good" / "report.html").write_text("<svg></svg>")
    (root / "good" / "results.json").symlink_to(outside / "results.json")  # metrics from elsewhere
    (root / "linked").mkdir()
    (root / "linked" / "report.html").symlink_to(outside / "report.html")
    (root / "loop").mkdir()
    (root / "loop" / "report.html").symlink_to(root / "loop" / "report.html")
    (root / "inner").mkdir()
    (root / "inner" / "report.html").symlink_to(root / "good" / "report.html")  # stays inside: served

    assert {r.name: (r.study, r.federated_auc) for r in list_runs(root)} == {"good": ("", None), "inner": ("", None)}
    assert report_path(root, "inner") == (root / "good" / "report.html").resolve()
    for name in ("linked", "loop"):
        with pytest.raises(ConfigError):
            run_folder(root, name)
        with pytest.raises(ConfigError):
            report_path(root, name)
