"""A longer fuzz campaign on what a dispatcher parses from the wire (standard 5.5.1.1e).

Targets, each fed random and mutated inputs for ``--seconds`` (split evenly):
  frame      ``medfed.core.serde.decode`` on random bytes, truncations and byte flips of
             valid frames, and valid frames with header fields swapped for other JSON values;
  secagg     ``SecureRound.receive`` on mutated protocol messages of a live round;
  ciphertext ``check_fresh_update`` (Paillier and CKKS) on mutated ciphertext chunks.
An input passes when it is accepted or refused with a MedfedError; anything else is a crash,
counted per exception type (with one example each, hex-encoded and cut to 200 bytes).

Prints one JSON line. Usage: python bench/fuzz.py [--seconds 120] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from medfed.core import serde
from medfed.core.messages import Ack, NodeUpdate, SecAggMessage, StudyEnd
from medfed.dispatcher.secure_round import SecureRound, secure_settings
from medfed.errors import MedfedError
from medfed.node.secure import SecureSession
from medfed.privacy.he import generate_scheme, load_scheme
from medfed.privacy.he.integrity import check_fresh_update

JSON_VALUES: list[Any] = [None, True, 0, -1, 2**70, 1.5, float("nan"), "", "x" * 300, [], [1], {}, {"a": 1}]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One of: truncate, flip bytes, insert random bytes, duplicate a slice."""
    if not data:
        return rng.randbytes(rng.randint(0, 64))
    kind = rng.randrange(4)
    cut = rng.randrange(len(data))
    if kind == 0:
        return data[:cut]
    if kind == 1:
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    if kind == 2:
        return data[:cut] + rng.randbytes(rng.randint(1, 64)) + data[cut:]
    return data[:cut] + data[cut : cut + rng.randint(1, 64)] * rng.randint(2, 4) + data[cut:]


def frame_inputs(rng: random.Random) -> Callable[[], bytes]:
    valid = [
        serde.encode(NodeUpdate("s", 1, "h", {"w": np.arange(12, dtype=np.float32)}, 5, 0.5, {})),
        serde.encode(SecAggMessage("s", 1, "h", "masked", {"k": [1]}, {"masked": np.zeros(16, np.uint8)}, {})),
        serde.encode(StudyEnd("s", True, "")),
        serde.encode(Ack(True)),
    ]

    def make() -> bytes:
        pick = rng.randrange(3)
        if pick == 0:
            return rng.randbytes(rng.randint(0, 512))
        frame = rng.choice(valid)
        if pick == 1:
            return mutate(frame, rng)
        header = serde.header_of(frame)
        header[rng.choice(sorted(header))] = rng.choice(JSON_VALUES)
        head = json.dumps(header).encode()
        return serde.MAGIC + len(head).to_bytes(4, "big") + head + frame[8 + int.from_bytes(frame[4:8], "big") :]

    return make


def run_target(name: str, seconds: float, make: Callable[[], Any], call: Callable[[Any], Any]) -> dict[str, Any]:
    crashes: Counter[str] = Counter()
    examples: dict[str, str] = {}
    count = refused = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        data = make()
        count += 1
        try:
            call(data)
        except MedfedError:
            refused += 1
        except Exception as exc:  # noqa: BLE001 — the campaign's job is to catch anything else
            key = f"{type(exc).__name__}: {str(exc)[:80]}"
            crashes[key] += 1
            raw = data if isinstance(data, bytes) else repr(data).encode()
            examples.setdefault(key, raw[:200].hex())
    return {"target": name, "inputs": count, "refused": refused, "crashes": dict(crashes), "examples": examples}


def secagg_target(rng: random.Random) -> tuple[Callable[[], Any], Callable[[Any], Any]]:
    names = [f"h{i}" for i in range(5)]
    settings = secure_settings({}, names)
    sessions = {
        n: SecureSession(study_id="fz", round_number=1, node=n, settings=settings,
                         new={"w": np.ones(32, np.float32)}, old={"w": np.zeros(32, np.float32)}, weight=3)
        for n in names
    }
    advertised = [sessions[n].advertise({}) for n in names]

    def make() -> SecAggMessage:
        msg = rng.choice(advertised)
        body = json.loads(mutate(json.dumps(msg.body).encode(), rng).decode("utf-8", "replace") or "null") \
            if rng.random() < 0.5 else rng.choice(JSON_VALUES)
        return SecAggMessage("fz", 1, msg.node, rng.choice(["advertise", "masked", "unmask_shares", "x"]), body, {}, {})

    def call(msg: SecAggMessage) -> None:
        SecureRound(study_id="fz", round_number=1, settings=settings, vector_size=33).receive(msg.node, msg)

    def safe_make() -> Any:
        while True:
            try:
                return make()
            except ValueError:  # the mutation broke the JSON itself: not an input the server gets
                continue

    return safe_make, call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    share = args.seconds / 4
    results = [run_target("frame", share, frame_inputs(rng), serde.decode)]
    results.append(run_target("secagg", share, *secagg_target(rng)))
    for scheme_name in ("paillier", "ckks"):
        key = generate_scheme(scheme_name)
        public = load_scheme(key.public_bytes())
        chunks = key.encrypt(np.linspace(-1, 1, 100))
        results.append(run_target(
            f"ciphertext-{scheme_name}", share,
            lambda chunks=chunks: [mutate(c, rng) for c in chunks],
            lambda data, public=public: check_fresh_update(public, data, 100),
        ))
    total_crashes = sum(sum(r["crashes"].values()) for r in results)
    print(json.dumps({"benchmark": "fuzz", "seconds": args.seconds, "seed": args.seed,
                      "inputs": sum(r["inputs"] for r in results), "crashes": total_crashes, "targets": results}))


if __name__ == "__main__":
    main()
