"""Edge inference: the SDK (onnxruntime, from the signed bundle) against PyTorch eager, same run.

For each bundle mode (fp32 ``none``, ``int8``, ``16x``) on the PneumoniaMNIST test images:

  latency_ms      median wall time of one image, raw uint8 pixels in, probabilities out
                  (SDK: ``Bundle.predict``; torch: /255, forward, softmax), best of 3 windows
  throughput      images/s through batches of ``--batch`` images (same pre/post-processing)
  speedup         torch latency / SDK latency, and SDK throughput / torch throughput

PyTorch eager always runs the fp32 model (it has no int8/ternary kernels for this model), so each
mode's ratios compare the deployed bundle with the framework as it trained. CPU always; CUDA as
well when torch sees a GPU (the SDK on CUDA only when onnxruntime offers CUDAExecutionProvider).

Without ``--run``/``--kit`` it trains SmallCNN2d centrally for one epoch and provisions a
throw-away study, so it runs anywhere in about a minute. Prints one JSON line.

Usage: python bench/inference.py [--run RUN_DIR --kit RESULT_KIT] [--data-dir DIR] [--batch 256]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import tomllib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from safetensors.numpy import save_file

from medfed.core.config import parse_study
from medfed.data import images_to_float, load_medmnist
from medfed.deployment import QuantizeMode, export_run, load_trained_run
from medfed.models import build_model, model_arrays
from medfed.provision import provision_study
from medfed.training import LocalTrainConfig, as_tensors, train_local
from medfed_runtime import load_bundle

STUDY = """
[study]
id = "bench-inference"
[data]
dataset = "pneumoniamnist"
[training]
model = "cnn2d"
[[parties]]
name = "dispatcher"
role = "dispatcher"
[[parties]]
name = "hospital-a"
role = "data"
[[parties]]
name = "result"
role = "result"
"""


def _quick_run(work: Path, data_dir: Path | None) -> tuple[Path, Path]:
    """A run folder (one central epoch) and the result party's kit of a throw-away study."""
    study = parse_study(tomllib.loads(STUDY))
    data = load_medmnist("pneumoniamnist", data_dir=data_dir)
    model = build_model("cnn2d", in_channels=1, n_classes=2, dims=2)
    x, y = as_tensors(images_to_float(data.train.images, dims=2), data.train.labels, torch.device("cpu"))
    train_local(model, x, y, LocalTrainConfig(epochs=1), shuffle_seed=0)
    run = work / "run"
    run.mkdir()
    results = {
        "study": {"id": study.study_id},
        "dataset": {"flag": "pneumoniamnist", "size": 28, "n_classes": 2},
        "config": {"model": "cnn2d"},
    }
    (run / "results.json").write_text(json.dumps(results), encoding="utf-8")
    save_file(model_arrays(model), str(run / "model.safetensors"))
    provision_study(study, work / "kits")
    return run, work / "kits" / "result"


def _median_ms(call: Callable[[], object], repeats: int) -> float:
    """Best of three medians of ``repeats`` calls each, in milliseconds."""
    for _ in range(10):
        call()
    medians = []
    for _ in range(3):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        medians.append(statistics.median(times))
    return min(medians) * 1e3


def _throughput(call: Callable[[np.ndarray], object], images: np.ndarray, batch: int) -> float:
    """Images per second over the whole set in batches (best of two passes)."""
    call(images[:batch])
    best = 0.0
    for _ in range(2):
        start = time.perf_counter()
        for i in range(0, len(images), batch):
            call(images[i : i + batch])
        best = max(best, len(images) / (time.perf_counter() - start))
    return best


def _torch_predict(model: torch.nn.Module, device: torch.device) -> Callable[[np.ndarray], np.ndarray]:
    model = model.to(device).eval()

    @torch.no_grad()
    def predict(images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(images_to_float(images, dims=2)).to(device)
        return torch.softmax(model(x), dim=1).cpu().numpy()

    return predict


def _measure(
    sdk_one: Callable[[], object], sdk_batch: Callable[[np.ndarray], object],
    torch_one: Callable[[], object], torch_batch: Callable[[np.ndarray], object],
    images: np.ndarray, batch: int, repeats: int,
) -> dict[str, Any]:
    sdk_ms, torch_ms = _median_ms(sdk_one, repeats), _median_ms(torch_one, repeats)
    sdk_ips, torch_ips = _throughput(sdk_batch, images, batch), _throughput(torch_batch, images, batch)
    return {
        "sdk_latency_ms": round(sdk_ms, 4),
        "torch_latency_ms": round(torch_ms, 4),
        "latency_speedup": round(torch_ms / sdk_ms, 3),
        "sdk_images_per_s": round(sdk_ips, 1),
        "torch_images_per_s": round(torch_ips, 1),
        "throughput_ratio": round(sdk_ips / torch_ips, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="run folder (default: train one central epoch)")
    parser.add_argument("--kit", type=Path, help="the result party's kit (with --run)")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    if (args.run is None) != (args.kit is None):
        parser.error("--run and --kit go together")
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp_name:
        work = Path(tmp_name)
        run_dir, kit = (args.run, args.kit) if args.run else _quick_run(work, args.data_dir)
        run = load_trained_run(run_dir)
        images = load_medmnist(run.info.flag, size=run.image_size, data_dir=args.data_dir).test.images
        one = images[0]
        devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
        cuda_sdk = "CUDAExecutionProvider" in ort.get_available_providers()
        modes: dict[str, Any] = {}
        for mode in QuantizeMode:
            report = export_run(run_dir, work / f"{mode.value}.mfbundle", signer_kit=kit, quantize=mode.value, data_dir=args.data_dir)
            row = report.row(mode.value)
            entry: dict[str, Any] = {"model_bytes": row.model_bytes, "compression_ratio": row.compression_ratio,
                                     "auc": row.auc, "delta_auc": row.delta_auc}
            for device in devices:
                providers = ["CUDAExecutionProvider"] if device.type == "cuda" else ["CPUExecutionProvider"]
                if device.type == "cuda" and not cuda_sdk:
                    entry["cuda"] = {"sdk": "onnxruntime has no CUDAExecutionProvider here"}
                    continue
                bundle = load_bundle(report.bundle_path, trusted_ca=report.trusted_ca_pem, providers=providers)
                eager = _torch_predict(run.model, device)
                entry[device.type] = _measure(
                    partial(bundle.predict, one), bundle.predict_batch,
                    partial(eager, one[None]), eager, images, args.batch, args.repeats,
                )
            modes[mode.value] = entry
    print(json.dumps({
        "bench": "inference", "study": run.study_id, "test_images": len(images), "batch": args.batch,
        "cpu": platform.processor() or platform.machine(), "threads": threads,
        "torch": torch.__version__, "onnxruntime": ort.__version__, "modes": modes,
    }))


if __name__ == "__main__":
    main()
