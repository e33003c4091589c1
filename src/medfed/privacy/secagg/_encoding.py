"""Fixed-point encoding of float updates into the ring Z_{2^m} (m = 32 or 64).

x ↦ round(x · 2^scale_bits) mod 2^m. Sums of encodings decode exactly to the sum of the
rounded values as long as the true sum stays inside (−2^(m−1), 2^(m−1)): the config checks
n · clip · scale < 2^(m−1), and ``encode`` checks |x| ≤ clip before anything is masked.
"""

from __future__ import annotations

import math

import numpy as np

from medfed.privacy.secagg.config import SecAggConfig
from medfed.privacy.secagg.errors import SecAggError


def _signed(config: SecAggConfig) -> np.dtype:
    return np.dtype(f"<i{config.modulus_bits // 8}")


def encode(update: np.ndarray, config: SecAggConfig) -> np.ndarray:
    """A 1-D float update (d,) → ring words (d,) of ``config.ring_dtype``."""
    x = np.asarray(update)
    if x.ndim != 1 or x.size == 0 or not np.issubdtype(x.dtype, np.floating):
        raise SecAggError(f"an update must be a non-empty 1-D float array, got {x.dtype} {x.shape}")
    peak = float(np.max(np.abs(x)))  # NaN propagates, so one pass also finds NaN and Inf
    if not math.isfinite(peak):
        raise SecAggError("the update holds NaN or Inf; it cannot be aggregated")
    if peak > config.clip:
        raise SecAggError(
            f"update value {peak:.6g} exceeds the clip bound {config.clip}: with n = {config.n} "
            f"and scale 2^{config.scale_bits} the ring sum could overflow 2^{config.modulus_bits}"
            f"; clip the update to ±{config.clip} before masking"
        )
    # Scaling by a power of two is exact in the input's own float type, and the bound keeps
    # |x · scale| < 2^(m−1), so the signed cast is exact; its bits are the ring encoding.
    if x.dtype.itemsize < 4:
        x = x.astype(np.float32)  # float16 cannot hold x · 2^16
    fixed = np.rint(x * x.dtype.type(config.scale))
    return fixed.astype(_signed(config)).view(config.ring_dtype)


def decode(ring_sum: np.ndarray, config: SecAggConfig) -> np.ndarray:
    """Ring words (d,) → float64 (d,), reading them as signed two's-complement values."""
    signed = ring_sum.view(_signed(config))
    return signed.astype(np.float64) / config.scale
