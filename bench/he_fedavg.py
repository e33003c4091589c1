"""Encrypted FedAvg cost: one round of medfed's small CNN (205,938 floats), 3 hospitals.

Measured in one process, for the same trained updates, in the same run:
  plain   each hospital encodes its update as a wire frame; the dispatcher decodes and
          takes the weighted average; each hospital decodes the new model.
  he      each hospital encrypts ``[w * params, w]`` (medfed.aggregation.sealed); the
          dispatcher adds the ciphertexts with the public key only; each hospital
          decrypts the sum and divides.
Hospitals work in parallel in a real round, so a round's critical path is
  local training + the slowest hospital's encode/encrypt + the dispatcher's step
  + one hospital's decode/decrypt;
``time_ratio`` is that path with encryption over the plain one (local training: one epoch
of cnn2d on 1,400 PneumoniaMNIST-sized images, measured here). ``upload_ratio`` and
``download_ratio``: frame bytes a hospital sends / receives, encrypted over plain.

Prints one JSON line. Usage: python bench/he_fedavg.py [--schemes ckks bfv paillier]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from medfed.aggregation import ClientReply, FedAvg
from medfed.aggregation.sealed import open_sealed, seal, sealed_sum, weighted_vector
from medfed.core import serde
from medfed.core.messages import NodeUpdate, TrainTask
from medfed.models import build_model, model_arrays
from medfed.privacy.he import generate_scheme, load_scheme
from medfed.training import LocalTrainConfig, train_local, warm_up

HOSPITALS = 3
SAMPLES = (1400, 1100, 900)


def _seconds(call, *args):
    start = time.perf_counter()
    value = call(*args)
    return value, time.perf_counter() - start


def _updates() -> tuple[dict, list[dict], float]:
    base = model_arrays(build_model("cnn2d", in_channels=1, n_classes=2, dims=2, seed=0))
    rng = np.random.default_rng(0)
    updates = []
    for _ in range(HOSPITALS):
        updates.append(
            {k: (v + rng.normal(0, 0.01, v.shape)).astype(v.dtype) if v.dtype.kind == "f" else v for k, v in base.items()}
        )
    model = build_model("cnn2d", in_channels=1, n_classes=2, dims=2, seed=0)
    x = torch.rand(SAMPLES[0], 1, 28, 28)
    y = torch.randint(0, 2, (SAMPLES[0],))
    warm_up()
    start = time.perf_counter()
    train_local(model, x, y, LocalTrainConfig(epochs=1, batch_size=64), shuffle_seed=0)
    train = time.perf_counter() - start
    return base, updates, train


def _plain_round(base: dict, updates: list[dict]) -> tuple[float, int, int]:
    frames, times = [], []
    for i, params in enumerate(updates):
        frame, t = _seconds(serde.encode, NodeUpdate("s", 1, f"h{i}", params, SAMPLES[i], 1.0))
        frames.append(frame)
        times.append(t)
    start = time.perf_counter()
    replies = [ClientReply(f"h{i}", serde.decode(f).params, SAMPLES[i], {}) for i, f in enumerate(frames)]
    new = FedAvg().aggregate(1, base, replies)
    down = serde.encode(TrainTask("s", 2, new, {}))
    server = time.perf_counter() - start
    _, node_decode = _seconds(serde.decode, down)
    return max(times) + server + node_decode, len(frames[0]), len(down)


def _he_round(scheme_name: str, base: dict, updates: list[dict]) -> tuple[float, int, int, float]:
    secret = generate_scheme(scheme_name, max_addends=64)
    public = load_scheme(secret.public_bytes())
    frames, times = [], []
    for i, params in enumerate(updates):
        start = time.perf_counter()
        sealed = seal(secret, weighted_vector(params, SAMPLES[i]))
        frames.append(serde.encode(NodeUpdate("s", 1, f"h{i}", sealed, 1, 1.0)))
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    total = sealed_sum(public, [serde.decode(f).params for f in frames])
    down = serde.encode(TrainTask("s", 2, total, {}))
    server = time.perf_counter() - start
    start = time.perf_counter()
    opened = open_sealed(secret, serde.decode(down).params, base)
    node_open = time.perf_counter() - start
    expected = FedAvg().aggregate(1, base, [ClientReply(f"h{i}", u, SAMPLES[i], {}) for i, u in enumerate(updates)])
    error = max(float(np.abs(opened[k] - expected[k]).max()) for k in base if base[k].dtype.kind == "f")
    return max(times) + server + node_open, len(frames[0]), len(down), error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schemes", nargs="+", default=["ckks", "bfv", "paillier"])
    args = parser.parse_args()
    base, updates, train = _updates()
    plain_time, plain_up, plain_down = _plain_round(base, updates)
    out: dict[str, object] = {"train_seconds": round(train, 3), "plain_round_seconds": round(train + plain_time, 3)}
    for name in args.schemes:
        he_time, up, down, error = _he_round(name, base, updates)
        out[name] = {
            "time_ratio": round((train + he_time) / (train + plain_time), 3),
            "aggregation_only_ratio": round(he_time / plain_time, 1),
            "upload_ratio": round(up / plain_up, 3),
            "download_ratio": round(down / plain_down, 3),
            "max_abs_error": error,
            "round_seconds": round(train + he_time, 3),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
