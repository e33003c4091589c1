"""`medfed task result` trusts the study CA pinned when the task was created, not the CA a kit
brings along nor one the caller names (5.4.2.3g)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from medfed.cli import main
from medfed.pki import CertificateAuthority, write_kit
from medfed.provision import provision_study
from medfed.roles import Role
from medfed.scheduling import Scheduler, TaskError, open_task_store, parse_study_text

from .support import GOOD_RESULT, STUDY_TOML, spec


def _sha256(pem_file: Path) -> str:
    """The fingerprint as ``openssl x509 -fingerprint -sha256`` computes it (over the DER)."""
    return x509.load_pem_x509_certificate(pem_file.read_bytes()).fingerprint(hashes.SHA256()).hex()


def _succeed(store_path: Path, task_id: str) -> None:
    store = open_task_store(store_path)
    scheduler = Scheduler(store)
    scheduler.heartbeat("n1", capacity=1, load=0, datasets=[])
    assert scheduler.next_for("n1") is not None
    scheduler.complete(task_id, "n1", GOOD_RESULT)
    store.close()


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """The study's kits, a succeeded task created through the CLI, and a result-role kit from a
    CA the caller made up (same study id, not the study's CA)."""
    root = tmp_path_factory.mktemp("trust")
    kits = root / "kits"
    provision_study(parse_study_text(STUDY_TOML), kits)
    study_file = root / "study.toml"
    study_file.write_text(STUDY_TOML, encoding="utf-8")
    store_path = root / "tasks.db"
    assert main(["task", "create", "--store", str(store_path), "--study", str(study_file),
                 "--kit", str(kits / "initiator"), "--json"]) == 0
    forged_ca = CertificateAuthority.create("breast-small")
    forged_ca.save(root / "forged-ca")
    write_kit(root / "forged", forged_ca.issue("mallory", Role.RESULT, hosts=[]), ca_pem=forged_ca.cert_pem,
              study_id="breast-small", dispatcher_host="127.0.0.1", dispatcher_port=0)
    return {"root": root, "store": store_path, "kits": kits, "study": study_file,
            "forged": root / "forged", "forged_ca": root / "forged-ca" / "ca.pem"}


@pytest.fixture(scope="module")
def task_id(setting: dict[str, Path | str]) -> str:
    store = open_task_store(setting["store"])
    (task,) = store.list()
    store.close()
    _succeed(Path(setting["store"]), task.task_id)
    return task.task_id


def _study_id(study: Path) -> str:
    from medfed.core.config import load_study

    return load_study(study).study_id


def _result(
    setting: dict[str, Path | str], task_id: str, kit: Path, ca: Path, store: Path | None = None, *extra: str
) -> int:
    return main(["task", "result", task_id, "--store", str(store or setting["store"]),
                 "--kit", str(kit), "--trusted-ca", str(ca), *extra])


@pytest.mark.clause("5.4.2.3g")
def test_task_create_pins_the_study_ca_fingerprint(
    setting: dict[str, Path | str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kits, study = Path(setting["kits"]), Path(setting["study"])
    study_ca = kits / "ca" / "ca.pem"
    pin = _sha256(study_ca)
    store = open_task_store(setting["store"])
    (from_kit,) = store.list()
    store.close()
    assert from_kit.spec.study_ca_sha256 == pin  # the initiator kit's ca.pem is the study CA
    # Named explicitly beside the kit that it issued, the same CA gets the same pin; `show` names it.
    own = tmp_path / "tasks.db"
    assert main(["task", "create", "--store", str(own), "--study", str(study), "--kit", str(kits / "initiator"),
                 "--trusted-ca", str(study_ca), "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["spec"]["study_ca_sha256"] == pin
    assert main(["task", "show", created["task_id"], "--store", str(own)]) == 0
    assert f"study CA      SHA-256 {pin[:16]}…" in capsys.readouterr().out


def test_task_create_without_a_study_ca_or_with_a_wrong_one_queues_nothing(
    setting: dict[str, Path | str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kits, study = Path(setting["kits"]), Path(setting["study"])
    store = tmp_path / "tasks.db"
    create = ["task", "create", "--store", str(store), "--study", str(study)]
    assert main(create) == 2
    assert "give --kit kits/initiator" in capsys.readouterr().err
    # A CA alone, without the initiator's kit it issued, pins nothing: anyone can make a CA.
    assert main([*create, "--trusted-ca", str(kits / "ca" / "ca.pem")]) == 2
    assert "give --kit kits/initiator" in capsys.readouterr().err
    # A party's certificate is no anchor.
    assert main([*create, "--kit", str(kits / "initiator"), "--trusted-ca", str(kits / "dispatcher" / "cert.pem")]) == 2
    assert "not a CA certificate" in capsys.readouterr().err
    # A kit creates tasks of its own study only: the pin would otherwise name a CA no result kit of
    # the task's study can chain to.
    other = tmp_path / "other.toml"
    other.write_text(study.read_text(encoding="utf-8").replace(f'id = "{_study_id(study)}"', 'id = "other-study"', 1))
    assert _study_id(other) == "other-study"
    assert main(["task", "create", "--store", str(store), "--study", str(other), "--kit", str(kits / "initiator")]) == 2
    assert "the study file is 'other-study'" in capsys.readouterr().err
    # The initiator's kit and the named CA must agree.
    assert main([*create, "--kit", str(kits / "initiator"), "--trusted-ca", str(setting["forged_ca"])]) == 2
    assert "was not issued by the CA" in capsys.readouterr().err
    assert main(["task", "list", "--store", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_malformed_pin_is_refused_at_submission(scheduler: Scheduler) -> None:
    for bad in ("AB" * 32, "ab" * 31, "sha256:" + "ab" * 32, 42):
        with pytest.raises(TaskError, match="study_ca_sha256 .* must be 64 lower-case hex digits"):
            scheduler.submit(spec("pinned", study_ca_sha256=bad), "initiator")
    assert scheduler.list() == []
    assert scheduler.submit(spec("pinned", study_ca_sha256="ab" * 32), "initiator").spec.study_ca_sha256 == "ab" * 32


@pytest.mark.clause("5.4.2.3g")
def test_the_study_result_kit_with_the_pinned_ca_gets_the_result(
    setting: dict[str, Path | str], task_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    kits = Path(setting["kits"])
    assert _result(setting, task_id, kits / "result", kits / "ca" / "ca.pem") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == GOOD_RESULT and "warning" not in captured.err


@pytest.mark.clause("5.4.2.3g")
def test_a_result_kit_with_its_own_made_up_ca_is_refused_naming_both_fingerprints(
    setting: dict[str, Path | str], task_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    kits, forged_ca = Path(setting["kits"]), Path(setting["forged_ca"])
    pinned, given = _sha256(kits / "ca" / "ca.pem"), _sha256(forged_ca)
    # The forged kit chains to the forged CA: only the pin tells them apart.
    assert _result(setting, task_id, Path(setting["forged"]), forged_ca) == 2
    captured = capsys.readouterr()
    assert "is not the study CA pinned when task" in captured.err and "metrics" not in captured.out
    assert f"SHA-256 {given[:16]}…" in captured.err and f"SHA-256 {pinned[:16]}…" in captured.err
    # Another CA is refused even with the study's own result kit.
    assert _result(setting, task_id, kits / "result", forged_ca) == 2
    assert "is not the study CA pinned" in capsys.readouterr().err


@pytest.mark.clause("5.4.2.3g")
def test_a_result_kit_from_a_made_up_ca_is_refused_under_the_study_ca(
    setting: dict[str, Path | str], task_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    kits = Path(setting["kits"])
    assert _result(setting, task_id, Path(setting["forged"]), kits / "ca" / "ca.pem") == 2
    captured = capsys.readouterr()
    assert "was not issued by the study's CA" in captured.err and "metrics" not in captured.out
    # Only the CA certificate anchors trust: another certificate of the study is no anchor.
    assert _result(setting, task_id, Path(setting["forged"]), kits / "dispatcher" / "cert.pem") == 2
    assert "not a CA certificate" in capsys.readouterr().err


def test_the_trusted_ca_is_required_and_must_be_readable(
    setting: dict[str, Path | str], task_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kits = Path(setting["kits"])
    with pytest.raises(SystemExit) as missing:
        main(["task", "result", task_id, "--store", str(setting["store"]), "--kit", str(kits / "result")])
    assert missing.value.code == 2
    assert "--trusted-ca" in capsys.readouterr().err
    assert _result(setting, task_id, kits / "result", tmp_path / "absent.pem") == 2
    assert "cannot read the study's CA certificate" in capsys.readouterr().err
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate", encoding="utf-8")
    assert _result(setting, task_id, kits / "result", garbage) == 2
    assert "is not a CA certificate" in capsys.readouterr().err


def test_a_store_written_before_pinning_still_opens_and_serves_its_results(
    setting: dict[str, Path | str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tasks queued before pinning carry no fingerprint in their stored spec: they still read,
    show as not pinned, and give their result against the CA named, with a warning."""
    kits = Path(setting["kits"])
    old = tmp_path / "old-tasks.db"
    store = open_task_store(old)
    task = Scheduler(store).submit(spec("legacy"), "initiator")
    store.close()
    with sqlite3.connect(old) as db:  # the spec as it was stored then: no study_ca_sha256 key
        (raw,) = db.execute("SELECT spec FROM medfed_tasks").fetchone()
        legacy = json.loads(raw)
        del legacy["study_ca_sha256"]
        db.execute("UPDATE medfed_tasks SET spec = ?", (json.dumps(legacy),))
    db.close()
    _succeed(old, task.task_id)
    reopened = open_task_store(old)
    read = reopened.get(task.task_id)
    reopened.close()
    assert read is not None and read.spec.study_ca_sha256 is None
    assert main(["task", "show", task.task_id, "--store", str(old)]) == 0
    assert "study CA      not pinned" in capsys.readouterr().out
    # An unpinned task is refused unless the caller says to trust the CA as given.
    assert _result(setting, task.task_id, kits / "result", kits / "ca" / "ca.pem", old) == 2
    assert "pass --allow-unpinned" in capsys.readouterr().err
    assert _result(setting, task.task_id, kits / "result", kits / "ca" / "ca.pem", old, "--allow-unpinned") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == GOOD_RESULT
    assert f"task {task.task_id} pins no study CA" in captured.err
    # Without a pin the chain check still stands: a kit from another CA gets nothing.
    assert _result(setting, task.task_id, Path(setting["forged"]), kits / "ca" / "ca.pem", old, "--allow-unpinned") == 2
    assert "was not issued by the study's CA" in capsys.readouterr().err
    # A pin altered in the store into something that is no fingerprint is refused, not trusted.
    with sqlite3.connect(old) as db:
        (raw,) = db.execute("SELECT spec FROM medfed_tasks").fetchone()
        db.execute("UPDATE medfed_tasks SET spec = ?", (json.dumps({**json.loads(raw), "study_ca_sha256": 123}),))
    db.close()
    assert _result(setting, task.task_id, kits / "result", kits / "ca" / "ca.pem", old, "--allow-unpinned") == 2
    assert "malformed study-CA pin" in capsys.readouterr().err
