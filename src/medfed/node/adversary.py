"""Simulated malicious computing party (standard 5.5.1.1e): fault injection, disclosed.

A node configured as an adversary trains honestly, then corrupts what it sends, per the
study's ``[adversary]`` behaviour:

* ``random_factors`` — replaces a fraction of the float values of its update with random
  numbers drawn uniformly in the range the honest update spans (same dtype and range);
* ``sign_flip`` — sends ``global − scale · (new − global)``;
* ``scaling`` — model replacement, ``global + scale · (new − global)``;
* ``gaussian_noise`` — adds N(0, σ²) to every value.

Every injected fault is recorded here (ground truth, ``Injection``), separately from what the
dispatcher detects. Only simulations and security evaluations set ``[adversary]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medfed.core.config import AdversaryConfig, Behaviour
from medfed.core.messages import Arrays
from medfed.training import derive_seed


@dataclass(frozen=True)
class Injection:
    round: int
    node: str
    behaviour: str
    values_changed: int


def corrupt(
    new: Arrays, start: Arrays, config: AdversaryConfig, *, node: str, round_number: int
) -> tuple[Arrays, Injection]:
    """The corrupted update and the record of what was injected."""
    rng = np.random.default_rng(derive_seed(config.seed, "adversary", node, round_number))
    out: Arrays = {}
    changed = 0
    for key, value in new.items():
        if not np.issubdtype(value.dtype, np.floating):
            out[key] = value
            continue
        base = start[key].astype(np.float64)
        v = value.astype(np.float64)
        if config.behaviour is Behaviour.RANDOM_FACTORS:
            mask = rng.random(v.shape) < config.fraction
            low, high = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
            v = np.where(mask, rng.uniform(low, high, v.shape), v)
            changed += int(mask.sum())
        elif config.behaviour is Behaviour.SIGN_FLIP:
            v = base - config.scale * (v - base)
            changed += v.size
        elif config.behaviour is Behaviour.SCALING:
            v = base + config.scale * (v - base)
            changed += v.size
        else:
            v = v + rng.normal(0.0, config.sigma, v.shape)
            changed += v.size
        out[key] = v.astype(value.dtype)
    return out, Injection(round_number, node, config.behaviour.value, changed)
