"""`medfed task result` trusts the study's CA, not the CA a kit brings along (5.4.2.3g)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medfed.cli import main
from medfed.pki import CertificateAuthority, write_kit
from medfed.provision import provision_study
from medfed.roles import Role
from medfed.scheduling import Scheduler, open_task_store, parse_study_text

from .support import GOOD_RESULT, STUDY_TOML, spec


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """A succeeded task, the study's kits, and a result-role kit from a CA the caller made up."""
    root = tmp_path_factory.mktemp("trust")
    kits = root / "kits"
    provision_study(parse_study_text(STUDY_TOML), kits)
    store_path = root / "tasks.db"
    store = open_task_store(store_path)
    scheduler = Scheduler(store)
    scheduler.heartbeat("n1", capacity=1, load=0, datasets=[])
    task = scheduler.submit(spec("secret"), "initiator")
    assert scheduler.next_for("n1") is not None
    scheduler.complete(task.task_id, "n1", GOOD_RESULT)
    store.close()
    forged_ca = CertificateAuthority.create("breast-small")  # same study id, not the study's CA
    write_kit(root / "forged", forged_ca.issue("mallory", Role.RESULT, hosts=[]), ca_pem=forged_ca.cert_pem,
              study_id="breast-small", dispatcher_host="127.0.0.1", dispatcher_port=0)
    return {"store": store_path, "kits": kits, "forged": root / "forged", "task": task.task_id}


def _result(setting: dict[str, Path | str], kit: Path, ca: Path) -> int:
    return main(["task", "result", str(setting["task"]), "--store", str(setting["store"]),
                 "--kit", str(kit), "--trusted-ca", str(ca)])


@pytest.mark.clause("5.4.2.3g")
def test_a_result_kit_from_a_made_up_ca_is_refused(
    setting: dict[str, Path | str], capsys: pytest.CaptureFixture[str]
) -> None:
    kits = Path(setting["kits"])
    assert _result(setting, Path(setting["forged"]), kits / "ca" / "ca.pem") == 2
    captured = capsys.readouterr()
    assert "was not issued by the study's CA" in captured.err and "metrics" not in captured.out
    # Only the CA certificate anchors trust: another certificate of the study is no anchor.
    assert _result(setting, Path(setting["forged"]), kits / "dispatcher" / "cert.pem") == 2
    assert "was not issued by the study's CA" in capsys.readouterr().err


@pytest.mark.clause("5.4.2.3g")
def test_the_study_result_kit_with_the_study_ca_gets_the_result(
    setting: dict[str, Path | str], capsys: pytest.CaptureFixture[str]
) -> None:
    kits = Path(setting["kits"])
    assert _result(setting, kits / "result", kits / "ca" / "ca.pem") == 0
    assert json.loads(capsys.readouterr().out) == GOOD_RESULT


def test_the_trusted_ca_is_required_and_must_be_readable(
    setting: dict[str, Path | str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kits = Path(setting["kits"])
    with pytest.raises(SystemExit) as missing:
        main(["task", "result", str(setting["task"]), "--store", str(setting["store"]), "--kit", str(kits / "result")])
    assert missing.value.code == 2
    assert "--trusted-ca" in capsys.readouterr().err
    assert _result(setting, kits / "result", tmp_path / "absent.pem") == 2
    assert "cannot read the study's CA certificate" in capsys.readouterr().err
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate", encoding="utf-8")
    assert _result(setting, kits / "result", garbage) == 2
    assert "is not a CA certificate" in capsys.readouterr().err
