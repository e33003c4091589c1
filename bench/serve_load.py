"""Load on the inference service: requests/s and latency of ``POST /api/v1/predict``.

Set-up (not timed): a throw-away study (intl suite) is provisioned, a seeded ``cnn2d`` run
folder is exported to a signed bundle with ``medfed.deployment.export_run``, a
service certificate naming 127.0.0.1 is issued, and ``medfed serve`` is started as a real
subprocess (TLS, bearer token from ``--token-file``).

Timed: at each concurrency level C, C client threads (one keep-alive HTTPS connection each,
verifying the study CA) post PneumoniaMNIST test images (28×28 PNG, multipart) for
``--seconds`` seconds. Reported per level: requests, requests/s, p50/p99 latency (ms,
client side, full round trip) and errors. Prints one JSON line.

Usage: python bench/serve_load.py [--levels 1,4,16] [--seconds 4] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "medmnist"


def _bundle(root: Path, data_dir: Path) -> tuple[Path, Path, Path]:
    """(bundle, trusted CA, service kit) of a fresh study."""
    import torch
    from safetensors.numpy import save_file

    from medfed.core.config import load_study
    from medfed.deployment import export_run
    from medfed.models import build_model, model_arrays
    from medfed.pki import CertificateAuthority, write_kit
    from medfed.provision import provision_study
    from medfed.roles import Role

    study_file = root / "study.toml"
    text = (REPO / "examples" / "pneumonia-3-hospitals.toml").read_text(encoding="utf-8")
    study_file.write_text(text.replace('suite = "gm"', 'suite = "intl"'), encoding="utf-8")
    study = load_study(study_file)
    provision_study(study, root / "kits")
    run = root / "run"
    run.mkdir()
    torch.manual_seed(0)
    model = build_model("cnn2d", in_channels=1, n_classes=2, dims=2, image_size=28)
    save_file(model_arrays(model), str(run / "model.safetensors"))
    results = {
        "study": {"id": study.study_id},
        "config": {"model": "cnn2d"},
        "dataset": {"flag": "pneumoniamnist", "size": 28},
    }
    (run / "results.json").write_text(json.dumps(results), encoding="utf-8")
    bundle = root / "model.mfbundle"
    export_run(run, bundle, signer_kit=root / "kits" / "result", data_dir=data_dir)
    ca = CertificateAuthority.load(root / "kits" / "ca")
    issued = ca.issue("inference", Role.AUX, hosts=["127.0.0.1"])
    write_kit(
        root / "inference",
        issued,
        ca_pem=ca.cert_pem,
        study_id=study.study_id,
        dispatcher_host="127.0.0.1",
        dispatcher_port=0,
    )
    return bundle, root / "kits" / "ca" / "ca.pem", root / "inference"


def _images(data_dir: Path, n: int = 64) -> list[bytes]:
    from PIL import Image

    with np.load(data_dir / "pneumoniamnist.npz") as data:
        pixels = np.asarray(data["test_images"][:n])
    out = []
    for p in pixels:
        buffer = io.BytesIO()
        Image.fromarray(p).save(buffer, format="PNG")
        out.append(buffer.getvalue())
    return out


def _wait_for(path: Path, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while not (path.is_file() and path.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"medfed serve did not start: {log.read_text()}")
        time.sleep(0.05)
    return path.read_text().strip()


def _level(
    url: str, token: str, trust: ssl.SSLContext, images: list[bytes], clients: int, seconds: float
) -> dict[str, Any]:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Barrier(clients + 1)
    stop_at: list[float] = []

    def worker(k: int) -> None:
        # TCP_NODELAY, as any latency-aware client sets it.
        transport = httpx.HTTPTransport(
            verify=trust, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        )
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, transport=transport, headers=headers, timeout=60) as c:
            c.get("/readyz")  # open the connection before the clock starts
            start.wait()
            i = k
            while time.perf_counter() < stop_at[0]:
                t0 = time.perf_counter()
                response = c.post(
                    "/api/v1/predict",
                    files={"file": ("x.png", images[i % len(images)], "image/png")},
                )
                elapsed = time.perf_counter() - t0
                if response.status_code == 200:
                    latencies[k].append(elapsed)
                else:
                    errors[k] += 1
                i += clients

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    stop_at.append(time.perf_counter() + 1e9)
    start.wait()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    flat = np.array([x for per in latencies for x in per]) * 1000
    return {
        "concurrency": clients,
        "requests": int(flat.size),
        "requests_per_s": round(flat.size / wall, 1),
        "p50_ms": round(float(np.percentile(flat, 50)), 2) if flat.size else None,
        "p99_ms": round(float(np.percentile(flat, 99)), 2) if flat.size else None,
        "errors": sum(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--levels", default="1,4,16", help="client concurrency levels (comma-separated)"
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per level")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("MEDFED_DATA_DIR", DEFAULT_DATA))
    )
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    with tempfile.TemporaryDirectory() as tmp_name:
        root = Path(tmp_name)
        bundle, ca, kit = _bundle(root, args.data_dir)
        images = _images(args.data_dir)
        port_file, token_file = root / "port", root / "token"
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        log = root / "serve.log"  # a file, not a pipe: nobody reads the service's log while it runs
        log_file = log.open("wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "medfed",
                "serve",
                str(bundle),
                "--trusted-ca",
                str(ca),
                "--kit",
                str(kit),
                "--port",
                "0",
                "--port-file",
                str(port_file),
                "--token-file",
                str(token_file),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
        try:
            url = f"https://127.0.0.1:{_wait_for(port_file, proc, log)}"
            token = _wait_for(token_file, proc, log)
            trust = ssl.create_default_context(cafile=str(ca))
            while httpx.get(f"{url}/readyz", verify=trust).status_code != 200:
                time.sleep(0.05)
            rows = [_level(url, token, trust, images, c, args.seconds) for c in levels]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            log_file.close()
    print(
        json.dumps(
            {
                "bench": "serve_load",
                "endpoint": "POST /api/v1/predict (28x28 PNG, multipart, HTTPS, bearer token)",
                "model": "cnn2d fp32 bundle",
                "cpu_count": os.cpu_count(),
                "seconds_per_level": args.seconds,
                "levels": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
