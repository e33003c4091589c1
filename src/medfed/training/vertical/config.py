"""Options every party of a vertical LR run must share, and the mini-batch schedule."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from medfed.errors import ConfigError

__all__ = ["VerticalConfig", "batch_rows"]


@dataclass(frozen=True)
class VerticalConfig:
    """Shared training options.

    ``iterations``: gradient steps; ``lr``: step size; ``l2``: ridge penalty on the
    feature weights (not the bias); ``batch_size``: rows per step, None for full batch;
    ``seed``: fixes the batch schedule; ``frac_bits``: fixed-point fraction bits for
    features and partial scores (products carry twice as many); ``mask_headroom_bits``:
    gradient masks are uniform below 2^(key bits - headroom), which keeps masked values
    far inside the decryptable range while leaving > 1000 bits of statistical hiding.
    """

    iterations: int
    lr: float
    l2: float = 0.0
    batch_size: int | None = None
    seed: int = 0
    frac_bits: int = 24
    mask_headroom_bits: int = 64

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise ConfigError(f"iterations must be >= 1, got {self.iterations}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"lr must be a positive number, got {self.lr}")
        if not (math.isfinite(self.l2) and self.l2 >= 0):
            raise ConfigError(f"l2 must be >= 0, got {self.l2}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1 or None, got {self.batch_size}")
        if not 8 <= self.frac_bits <= 48:
            raise ConfigError(f"frac_bits must be in [8, 48], got {self.frac_bits}")
        if not 32 <= self.mask_headroom_bits <= 512:
            raise ConfigError(
                f"mask_headroom_bits must be in [32, 512], got {self.mask_headroom_bits}"
            )


def batch_rows(n_rows: int, config: VerticalConfig, iteration: int) -> np.ndarray:
    """int64 row positions (ascending) used at ``iteration``: epochs are seeded permutations
    of the aligned rows cut into batches, so every party derives the same batches alone."""
    if config.batch_size is None or config.batch_size >= n_rows:
        return np.arange(n_rows, dtype=np.int64)
    per_epoch = math.ceil(n_rows / config.batch_size)
    epoch, k = divmod(iteration, per_epoch)
    order = np.random.default_rng([config.seed, epoch]).permutation(n_rows)
    return np.sort(order[k * config.batch_size : (k + 1) * config.batch_size]).astype(np.int64)
