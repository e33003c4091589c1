"""Simulated malicious computing party (standard 5.5.1.1e): fault injection, disclosed.

A node configured as an adversary trains honestly, then corrupts what it sends, per the
study's ``[adversary]`` behaviour:

* ``random_factors`` — replaces a fraction of the float values of its update with random
  numbers drawn uniformly in the range the honest update spans (same dtype and range);
* ``sign_flip`` — sends ``global − scale · (new − global)``;
* ``scaling`` — model replacement, ``global + scale · (new − global)``;
* ``gaussian_noise`` — adds N(0, σ²) to every value;
* ``label_flip`` — trains on flipped labels (data poisoning at the data level);
* ``replay`` — re-sends its previous round's update (trained anew, then swapped);
* ``dropout`` — leaves every round at the configured ``stage`` (see :class:`DropoutStage`): it
  answers that stage's message with a failure report, as a lost connection would tell the
  dispatcher, so the round carries on without it at once instead of after ``round_timeout``.

With ``target`` other than ``update``, ``random_factors`` puts its random values into a protocol
value instead (see :class:`ProtocolTamper`): the shares revealed for unmasking, the masked
vector (after committing to the honest one, or committed along with it), or ciphertext chunks.

Beyond the plaintext update, a malicious party can replace protocol values with random ones of
the right type and range (used by ``medfed evaluate security``): Shamir share values (random
field elements), masked secure-aggregation vectors (random ring words), ciphertext chunks
(random integers below n² for Paillier, random serialised bytes for CKKS/BFV) and vertical
gradient parts; it can also flip its labels (data poisoning) or drop out at a chosen stage.

Every injected fault is recorded (ground truth: ``Injection``, ``FaultRecord``), separately
from what the dispatcher detects. Only simulations and security evaluations set ``[adversary]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from medfed.core.config import AdversaryConfig, Behaviour, DropoutStage, FaultTarget
from medfed.core.messages import Arrays
from medfed.errors import ProtocolError
from medfed.training import derive_seed


@dataclass(frozen=True)
class Injection:
    round: int
    node: str
    behaviour: str
    values_changed: int
    target: str = "update"  # what was corrupted (see FaultRecord.target)


# The behaviours :func:`corrupt` applies to the plaintext update.
UPDATE_FAULTS = frozenset({Behaviour.RANDOM_FACTORS, Behaviour.SIGN_FLIP, Behaviour.SCALING, Behaviour.GAUSSIAN_NOISE})


def corrupts_update(config: AdversaryConfig) -> bool:
    return config.behaviour in UPDATE_FAULTS and config.target is FaultTarget.UPDATE


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
        elif config.behaviour is Behaviour.GAUSSIAN_NOISE:
            v = v + rng.normal(0.0, config.sigma, v.shape)
            changed += v.size
        else:
            raise ValueError(f"{config.behaviour.value} does not corrupt the update values")
        out[key] = v.astype(value.dtype)
    return out, Injection(round_number, node, config.behaviour.value, changed)


# Protocol-level fault injection (standard 5.5.1.1e): what a malicious computing party can
# replace besides its plaintext update. Each function returns the corrupted value and how
# many values it replaced; the caller records the ground truth (``FaultRecord``).


@dataclass(frozen=True)
class FaultRecord:
    """One injected fault: who, when, where in the protocol, what, and how much."""

    round: int
    node: str
    target: str  # "update", "shares", "masked", "ciphertext", "gradient", "labels", "dropout"
    behaviour: str
    values_changed: int


def random_shares(shares: tuple[tuple[int, bytes], ...], rng: np.random.Generator) -> tuple[tuple[int, bytes], ...]:
    """Every (owner, 66-byte share value) with the value replaced by a random field element
    of GF(2^521 − 1) (the right type and range: the check cannot reject it by format)."""
    prime = 2**521 - 1
    out = []
    for owner, value in shares:
        fresh = int.from_bytes(rng.bytes(len(value)), "big") % prime
        out.append((owner, fresh.to_bytes(len(value), "big")))
    return tuple(out)


def random_ring_words(data: bytes, fraction: float, rng: np.random.Generator, *, word_bytes: int = 4) -> tuple[bytes, int]:
    """A masked vector with ``fraction`` of its little-endian ring words replaced by uniform ones."""
    words = np.frombuffer(data, dtype=np.dtype(f"<u{word_bytes}")).copy()
    mask = rng.random(words.size) < fraction
    words[mask] = rng.integers(0, 2 ** (8 * word_bytes), int(mask.sum()), dtype=np.uint64).astype(words.dtype)
    return words.tobytes(), int(mask.sum())


def random_ciphertexts(
    chunks: list[bytes], fraction: float, rng: np.random.Generator, *, header_bytes: int, modulus: int | None = None
) -> tuple[list[bytes], int]:
    """Ciphertext chunks with ``fraction`` of them (at least one) replaced by random values.

    The chunk header is kept (a fault there is trivial to see); the body becomes a random
    integer below ``modulus`` (Paillier: n², so the value is in range) or, without a modulus
    (TenSEAL's serialised polynomials), random bytes of the same length.
    """
    count = max(1, round(fraction * len(chunks)))
    picked = set(rng.choice(len(chunks), size=min(count, len(chunks)), replace=False).tolist())
    out = []
    for i, chunk in enumerate(chunks):
        if i not in picked:
            out.append(chunk)
            continue
        length = len(chunk) - header_bytes
        if modulus is not None:
            value = int.from_bytes(rng.bytes(length + 8), "big") % modulus
            body = value.to_bytes(length, "big")
        else:
            body = rng.bytes(length)
        out.append(chunk[:header_bytes] + body)
    return out, len(picked)


def random_gradient_part(values: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """A float gradient part with ``fraction`` of its values replaced by uniform draws in its range."""
    v = np.asarray(values, dtype=np.float64)
    mask = rng.random(v.shape) < fraction
    low, high = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
    return np.where(mask, rng.uniform(low, high, v.shape), v).astype(values.dtype), int(mask.sum())


def flip_labels(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Label flipping (data poisoning): class c becomes n_classes − 1 − c."""
    return (n_classes - 1 - np.asarray(labels)).astype(np.asarray(labels).dtype)


class SimulatedDropout(ProtocolError):
    """A ``dropout`` adversary leaves here; reported upstream like any failure of the node."""


class ProtocolTamper:
    """One adversarial node's protocol-level fault injection for one round; records ground truth."""

    def __init__(
        self,
        config: AdversaryConfig,
        *,
        node: str,
        round_number: int,
        on_record: Callable[[FaultRecord], None] | None = None,
    ) -> None:
        self.config = config
        self.node = node
        self.round = round_number
        self._rng = np.random.default_rng(derive_seed(config.seed, "protocol", node, round_number))
        self._on_record = on_record
        self.records: list[FaultRecord] = []

    def targets(self, target: FaultTarget) -> bool:
        return self.config.behaviour is Behaviour.RANDOM_FACTORS and self.config.target is target

    def drops_at(self, stage: DropoutStage) -> bool:
        """True (and recorded) when this node leaves the round at ``stage``."""
        if self.config.behaviour is not Behaviour.DROPOUT or self.config.stage is not stage:
            return False
        self._record("dropout", 0)
        return True

    def masked(self, data: bytes) -> bytes:
        """Random ring words in ``fraction`` of the masked vector."""
        out, changed = random_ring_words(data, self.config.fraction, self._rng)
        self._record("masked", changed)
        return out

    def shares(self, shares: tuple[tuple[int, bytes], ...]) -> tuple[tuple[int, bytes], ...]:
        """Every revealed share replaced by a random field element."""
        self._record("shares", len(shares))
        return random_shares(shares, self._rng)

    def ciphertexts(self, chunks: list[bytes], *, header_bytes: int, modulus: int | None) -> list[bytes]:
        out, changed = random_ciphertexts(
            chunks, self.config.fraction, self._rng, header_bytes=header_bytes, modulus=modulus
        )
        self._record("ciphertext", changed)
        return out

    def _record(self, target: str, changed: int) -> None:
        record = FaultRecord(self.round, self.node, target, self.config.behaviour.value, changed)
        self.records.append(record)
        if self._on_record is not None:
            self._on_record(record)
