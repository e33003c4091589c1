"""First-order (histogram) features of the intensities inside the image or its mask.

Moments are population moments; kurtosis is excess kurtosis (0 for a normal
distribution); skewness and kurtosis are 0 for a constant region. Entropy (bits) and
uniformity use a ``bin_count``-bin histogram over ``value_range`` (fixed for every image)
or, when None, over each region's own min..max. These extend the fixed first-order block
of ``medfed.data.tabular.image_statistics`` with parameters, a mask and 3-D support.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from medfed.data.features.base import Extractor, FeatureSpec, FeatureType
from medfed.errors import ConfigError

__all__ = ["FirstOrder"]

_B, _S = FeatureType.BASIC, FeatureType.STATISTICAL


@dataclass(frozen=True)
class FirstOrder(Extractor):
    """Intensity statistics; ``percentiles`` in percent."""

    bin_count: int = 64
    value_range: tuple[float, float] | None = None
    percentiles: tuple[float, ...] = (10.0, 25.0, 50.0, 75.0, 90.0)

    name = "first_order"
    version = 1

    def __post_init__(self) -> None:
        if self.bin_count < 2:
            raise ConfigError(f"bin_count must be >= 2, got {self.bin_count}")
        if self.value_range is not None and not self.value_range[0] < self.value_range[1]:
            raise ConfigError(
                f"value_range must be (low, high) with low < high, got {self.value_range}"
            )
        if any(not 0.0 <= p <= 100.0 for p in self.percentiles):
            raise ConfigError(f"percentiles must lie in [0, 100], got {self.percentiles}")

    def params(self) -> dict[str, Any]:
        return {
            "bin_count": self.bin_count,
            "value_range": None
            if self.value_range is None
            else [float(v) for v in self.value_range],
            "percentiles": [float(p) for p in self.percentiles],
        }

    def feature_set(self) -> tuple[FeatureSpec, ...]:
        return (
            FeatureSpec("minimum", _B, "intensity"),
            FeatureSpec("maximum", _B, "intensity"),
            FeatureSpec("range", _B, "intensity"),
            FeatureSpec("n_voxels", _B, "voxels", "pixels or voxels in the region"),
            FeatureSpec("mean", _S, "intensity"),
            FeatureSpec("std", _S, "intensity", "population standard deviation"),
            FeatureSpec("skewness", _S),
            FeatureSpec("kurtosis", _S, "", "excess kurtosis"),
            *(
                FeatureSpec(f"p{p:g}", _S, "intensity", f"{p:g}th percentile")
                for p in self.percentiles
            ),
            FeatureSpec("iqr", _S, "intensity", "75th minus 25th percentile"),
            FeatureSpec("mad", _S, "intensity", "mean absolute deviation from the mean"),
            FeatureSpec("rms", _S, "intensity", "root mean square"),
            FeatureSpec("energy", _S, "intensity^2", "sum of squared intensities"),
            FeatureSpec("entropy", _S, "bits", "Shannon entropy of the binned histogram"),
            FeatureSpec("uniformity", _S, "", "sum of squared bin probabilities"),
        )

    def _extract(self, image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        x = (image[mask] if mask is not None else image.ravel()).astype(np.float64)
        mean = x.mean()
        centred = x - mean
        std = float(np.sqrt(np.mean(centred**2)))
        skew = float(np.mean(centred**3) / std**3) if std > 0 else 0.0
        kurt = float(np.mean(centred**4) / std**4 - 3.0) if std > 0 else 0.0
        pct = np.percentile(x, list(self.percentiles)) if self.percentiles else np.zeros(0)
        q25, q75 = np.percentile(x, [25.0, 75.0])
        low, high = self.value_range if self.value_range is not None else (x.min(), x.max())
        if high > low:
            counts, _ = np.histogram(np.clip(x, low, high), bins=self.bin_count, range=(low, high))
        else:  # a constant region fills one bin
            counts = np.array([x.size])
        prob = counts[counts > 0] / x.size
        entropy = float(-np.sum(prob * np.log2(prob))) + 0.0  # + 0.0: no -0.0
        return np.array(
            [
                x.min(),
                x.max(),
                x.max() - x.min(),
                x.size,
                mean,
                std,
                skew,
                kurt,
                *pct,
                q75 - q25,
                np.mean(np.abs(centred)),
                np.sqrt(np.mean(x**2)),
                np.sum(x**2),
                entropy,
                np.sum(prob**2),
            ]
        )
