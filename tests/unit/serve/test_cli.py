"""``medfed serve`` as a real process, its helper actions, and its refusal of a tampered bundle."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import medfed_runtime
from medfed.cli import main
from medfed.deployment.serve.app import CSRF_HEADER

from .conftest import REPO, Study

pytestmark = pytest.mark.clause("5.7.1.1", "5.7.2.1")


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while not (path.is_file() and path.read_text().strip()):
        if proc.poll() is not None:
            raise AssertionError(
                f"medfed serve exited with {proc.returncode}: {proc.stderr.read()}"
            )
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text().strip()


@pytest.mark.slow
def test_medfed_serve_process_answers_like_the_sdk_and_keeps_uploads_only_when_asked(
    study: Study,
    sdk: medfed_runtime.Bundle,
    images: dict[str, bytes],
    trust: ssl.SSLContext,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state, kept = tmp_path / "state", tmp_path / "kept"
    monkeypatch.setenv("MEDFED_SERVE_PASSWORD", "a long enough password")
    kit = ["--kit", str(study.service_kit.directory), "--state", str(state)]
    assert main(["serve", "user", *kit, "--name", "dr-li"]) == 0
    assert "'dr-li' can now log in" in capsys.readouterr().out
    port_file, token_file = tmp_path / "port", tmp_path / "token"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "medfed",
            "serve",
            str(study.bundle),
            "--trusted-ca",
            str(study.ca),
            *kit,
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--token-file",
            str(token_file),
            "--keep-uploads",
            str(kept),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"https://127.0.0.1:{_wait_for(port_file, proc)}"
        token = _wait_for(token_file, proc)
        assert token_file.stat().st_mode & 0o777 == 0o600
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/readyz", verify=trust).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with httpx.Client(
            base_url=url, verify=trust, headers={"Authorization": f"Bearer {token}"}
        ) as client:
            for name in ("png-3", "dicom-5"):
                answer = client.post(
                    "/api/v1/predict", files={"file": (f"{name}.bin", images[name])}
                ).json()
                expected = sdk.predict(images[name])
                assert (answer["label"], answer["index"]) == (expected.label, expected.index)
                assert answer["probabilities"] == pytest.approx(expected.probabilities, abs=1e-9)
        kept_files = sorted(kept.iterdir())
        assert sorted(f.read_bytes() for f in kept_files) == sorted(
            [images["png-3"], images["dicom-5"]]
        )
        assert all(f.stat().st_mode & 0o777 == 0o600 for f in kept_files)
        # A token minted afterwards by `medfed serve token` is accepted by the running service.
        assert main(["serve", "token", *kit, "--subject", "pacs-bridge", "--ttl", "120"]) == 0
        minted = capsys.readouterr().out.strip()
        assert (
            httpx.get(
                f"{url}/api/v1/model", headers={"Authorization": f"Bearer {minted}"}, verify=trust
            ).status_code
            == 200
        )
        # The web user enrolled before start logs in with the default (RFC 9106) argon2 cost.
        login = httpx.post(
            f"{url}/api/v1/login",
            json={"username": "dr-li", "password": "a long enough password"},
            headers={CSRF_HEADER: "1"},
            verify=trust,
        )
        assert login.status_code == 200 and login.json() == {"user": "dr-li"}
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "listening on https://127.0.0.1:" in out


def _tampered_copy(bundle: Path, out: Path) -> Path:
    data = bytearray(bundle.read_bytes())
    # Members are stored uncompressed: flip one byte in the middle of the ONNX graph.
    data[len(data) // 2] ^= 0x01
    out.write_bytes(bytes(data))
    return out


def test_tampered_bundle_is_refused_with_one_clear_line(
    study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tampered = _tampered_copy(study.bundle, tmp_path / "tampered.mfbundle")
    port_file = tmp_path / "port"
    code = main(
        [
            "serve",
            str(tampered),
            "--trusted-ca",
            str(study.ca),
            "--kit",
            str(study.service_kit.directory),
            "--state",
            str(tmp_path / "state"),
            "--port",
            "0",
            "--port-file",
            str(port_file),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert err.startswith(f"medfed serve: error: refusing to serve {tampered}:")
    assert "tampered" in err
    assert not port_file.exists()  # nothing listened


def test_bundle_signed_under_another_ca_is_refused(
    study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from medfed.pki import CertificateAuthority

    other = tmp_path / "other-ca.pem"
    other.write_bytes(CertificateAuthority.create("another-study").cert_pem)
    code = main(
        [
            "serve",
            str(study.bundle),
            "--trusted-ca",
            str(other),
            "--kit",
            str(study.service_kit.directory),
            "--state",
            str(tmp_path / "state"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "refusing to serve" in err


def test_serving_without_trusted_ca_or_with_a_bad_ttl_is_a_clear_error(
    study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kit = ["--kit", str(study.service_kit.directory), "--state", str(tmp_path / "state")]
    assert main(["serve", str(study.bundle), *kit]) == 2
    assert "needs --trusted-ca" in capsys.readouterr().err
    assert main(["serve", "token", *kit, "--ttl", "0"]) == 2
    assert "ttl_s must be in 1..86400" in capsys.readouterr().err
