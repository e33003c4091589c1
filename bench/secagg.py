"""Secure aggregation cost: one round, 10 and 50 hospitals, medfed's small CNN (205,938 floats).

Measured in one process, for the same float32 updates:
  plain   each client serialises its update (``tobytes``); the server deserialises and sums
          (the faster of ``np.sum`` over the list and a running ``np.add``).
  secagg  every client and server call of the four stages (advertise, share keys, masked
          input, unmasking), key generation included.
Clients run in parallel in a real round, so a round's critical path is
  Σ over stages (the slowest client's calls + the server's calls in that stage);
``time_ratio_aggregation_only`` is that path with secagg over the plain one. A real round
also trains locally first: ``time_ratio`` adds the fastest measured local epoch (cnn2d, 470
random 28×28 images, batch 64, Adam, ``medfed.training.train_local``; timed before and after
the rounds, with torch's default threads and with one) to both paths. ``cpu_s``: thread CPU seconds of every party's calls added up (training excluded).
``upload_ratio``: payload bytes the busiest client sends (``payload_size``: ints as 8 bytes)
over its float32 update. Each figure is from the median run of --repeat. ``n50_drop5``
repeats the largest size with a tenth of the nodes gone after sharing keys (the server
rebuilds their mask keys), against a plain round of the survivors.

Prints one JSON line. Usage: python bench/secagg.py [--repeat 3] [--sizes 10 50]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch

from medfed.models import build_model
from medfed.privacy.secagg import SecAggClient, SecAggConfig, SecAggServer, payload_size
from medfed.training import LocalTrainConfig, train_local, warm_up

T = TypeVar("T")
CLIP = 1.0


class Clock:
    """Wall seconds per (stage, client) and per server stage, and CPU seconds of all calls."""

    def __init__(self) -> None:
        self.client: dict[tuple[str, int], float] = {}
        self.server: dict[str, float] = {}
        self.cpu = 0.0

    def run(
        self, stage: str, call: Callable[..., T], *args: object, client: int | None = None
    ) -> T:
        """``call(*args)``, timed against ``client`` (a node id) or, if None, the server."""
        wall, cpu = time.perf_counter(), time.thread_time()
        value = call(*args)
        self.cpu += time.thread_time() - cpu
        spent = time.perf_counter() - wall
        if client is None:
            self.server[stage] = self.server.get(stage, 0.0) + spent
        else:
            self.client[stage, client] = self.client.get((stage, client), 0.0) + spent
        return value

    def stages(self) -> dict[str, tuple[float, float]]:
        """Stage → (slowest client's seconds, server seconds), in protocol order."""
        names = dict.fromkeys([stage for stage, _ in self.client] + list(self.server))
        return {
            stage: (
                max((t for (s, _), t in self.client.items() if s == stage), default=0.0),
                self.server.get(stage, 0.0),
            )
            for stage in names
        }

    def path(self) -> float:
        """The round's critical path: Σ over stages (slowest client + server)."""
        return sum(client + server for client, server in self.stages().values())


def plain_round(updates: list[np.ndarray]) -> Clock:
    """Each client serialises its float32 update; the server deserialises and sums them."""
    clock = Clock()
    frames = [clock.run("upload", u.tobytes, client=i) for i, u in enumerate(updates)]

    def listed() -> np.ndarray:
        return np.sum([np.frombuffer(f, np.float32) for f in frames], axis=0)

    def running() -> np.ndarray:
        total = np.frombuffer(frames[0], np.float32).copy()
        for frame in frames[1:]:
            np.add(total, np.frombuffer(frame, np.float32), out=total)
        return total

    # The baseline gets the faster of the two ways to sum, so the ratio is not flattered.
    candidates = []
    for way in (listed, running):
        server = Clock()
        server.run("sum", way)
        candidates.append(server)
    best = min(candidates, key=lambda c: c.server["sum"])
    clock.server["sum"], clock.cpu = best.server["sum"], clock.cpu + best.cpu
    return clock


def secagg_round(updates: list[np.ndarray], seed: bytes, *, drop: int = 0) -> tuple[Clock, int]:
    """The clock of one secure round and the largest client upload in bytes.

    The last ``drop`` nodes vanish after sharing keys: the server rebuilds their mask keys.
    """
    ids = tuple(range(len(updates)))
    survivors = ids[: len(ids) - drop]
    config = SecAggConfig.recommended(ids, clip=CLIP, round_seed=seed)
    clock = Clock()
    sent = dict.fromkeys(ids, 0)

    def up(cid: int, message: T) -> T:
        sent[cid] += payload_size(message)
        return message

    server = SecAggServer(config)
    clients = {}
    for cid in ids:  # key generation happens in the constructor
        clients[cid] = clock.run("advertise", SecAggClient, cid, config, client=cid)
        keys = up(cid, clock.run("advertise", clients[cid].advertise, client=cid))
        clock.run("advertise", server.receive_advertise, keys)
    rosters = clock.run("advertise", server.roster)
    for cid, client in clients.items():
        shares = up(cid, clock.run("share", client.receive_roster, rosters[cid], client=cid))
        clock.run("share", server.receive_share_keys, shares)
    inboxes = clock.run("share", server.forwarded)
    for cid in survivors:
        client = clients[cid]
        clock.run("mask", client.receive_shares, inboxes[cid], client=cid)
        masked = up(cid, clock.run("mask", client.masked_input, updates[cid], client=cid))
        clock.run("mask", server.receive_masked, masked)
    requests = clock.run("mask", server.unmask_requests)
    for cid in survivors:
        client = clients[cid]
        reply = up(cid, clock.run("unmask", client.unmask, requests[cid], client=cid))
        clock.run("unmask", server.receive_unmask, reply)
    total = clock.run("unmask", server.result)
    exact = np.sum(np.asarray([updates[i] for i in survivors], np.float64), axis=0)
    error = float(np.max(np.abs(total - exact)))
    assert error <= len(updates) * 2.0 ** -(config.scale_bits + 1) + 1e-9, error
    return clock, max(sent.values())


def local_training_seconds(repeat: int) -> list[tuple[float, int]]:
    """(seconds, torch threads) of epochs of cnn2d on 470 random 28×28 images.

    Timed with torch's default threads and with one: on a shared 2-core machine another busy
    process slows multi-threaded torch many times over, while one thread stays steady.
    """
    model = build_model("cnn2d", in_channels=1, n_classes=2, dims=2)
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(470, 1, 28, 28, generator=generator)
    labels = torch.randint(0, 2, (470,), generator=generator)
    cfg = LocalTrainConfig(epochs=1, batch_size=64)
    train_local(model, images, labels, cfg, shuffle_seed=0)  # first epoch pays lazy set-up
    default = torch.get_num_threads()
    epochs = []
    for threads in sorted({default, 1}):
        torch.set_num_threads(threads)
        for i in range(repeat):
            epochs.append(
                (train_local(model, images, labels, cfg, shuffle_seed=i + 1).seconds, threads)
            )
    torch.set_num_threads(default)
    return epochs


def measure(updates: list[np.ndarray], repeat: int, d: int, *, drop: int = 0) -> dict[str, Any]:
    """The median of ``repeat`` rounds of ``updates`` (n × (d,) float32), plain and secure."""
    n = len(updates)
    plains, secs = [], []
    for attempt in range(repeat):
        print(f"n={n} drop={drop} run {attempt + 1}/{repeat} ...", file=sys.stderr)
        gc.collect()
        plains.append(plain_round(updates[: n - drop]))
        gc.collect()
        secs.append(secagg_round(updates, os.urandom(32), drop=drop))
    plain = sorted(plains, key=Clock.path)[len(plains) // 2]
    clock, upload = sorted(secs, key=lambda s: s[0].path())[len(secs) // 2]
    return {
        "upload_ratio": round(upload / (4 * d), 4),
        "time_ratio_aggregation_only": round(clock.path() / plain.path(), 2),
        "path_s": {"secagg": clock.path(), "plain": plain.path()},
        "cpu_s": {"secagg": round(clock.cpu, 4), "plain": round(plain.cpu, 4)},
        "stages_s": {
            stage: {"client_max": round(c, 4), "server": round(s, 4)}
            for stage, (c, s) in clock.stages().items()
        },
        "neighbours": SecAggConfig.recommended(
            tuple(range(n)), clip=CLIP, round_seed=bytes(32)
        ).degree,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50])
    args = parser.parse_args()
    warm_up()
    model = build_model("cnn2d", in_channels=1, n_classes=2, dims=2)
    d = sum(p.numel() for p in model.parameters())
    print("local training ...", file=sys.stderr)
    epochs = local_training_seconds(max(args.repeat, 5))
    rng = np.random.default_rng(0)
    report: dict[str, Any] = {}
    for n in args.sizes:
        updates = [
            np.clip(rng.normal(0, 0.05, d), -CLIP, CLIP).astype(np.float32) for _ in range(n)
        ]
        secagg_round(updates, os.urandom(32))  # warm-up: first-touch page faults, imports
        report[f"n{n}"] = measure(updates, args.repeat, d)
        if n == max(args.sizes):
            drop = n // 10
            report[f"n{n}_drop{drop}"] = measure(updates, args.repeat, d, drop=drop)
    epochs += local_training_seconds(max(args.repeat, 5))
    # The fastest epoch, before or after: contention from other processes only inflates
    # training time, which would flatter the ratios.
    train_s, threads = min(epochs)
    for entry in report.values():
        path = entry.pop("path_s")
        entry["time_ratio"] = round((train_s + path["secagg"]) / (train_s + path["plain"]), 3)
        entry["path_s"] = {side: round(seconds, 4) for side, seconds in path.items()}
    report.update(
        {
            "values": d,
            "local_training_s": round(train_s, 4),
            "local_training_threads": threads,
            "local_training_slowest_s": round(max(epochs)[0], 4),
            "cpu_cores": os.cpu_count(),
        }
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
