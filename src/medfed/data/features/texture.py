"""Texture features: grey-level co-occurrence (GLCM) and run-length (GLRLM) statistics.

Images are binned to ``levels`` grey levels (over ``value_range`` or each image's own
range), matrices are built in four in-plane directions (0, 45, 90, 135 degrees), features
are computed per direction (and distance) and averaged. A volume (D, H, W) is treated
slice by slice along axis 0 with the matrices of one direction summed over slices
(2.5-D), so a feature means the same for 2-D and 3-D inputs. A mask restricts pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from medfed.data.features._matrices import ANGLES, glcm, glrlm
from medfed.data.features._quantise import quantise
from medfed.data.features.base import Extractor, FeatureSpec, FeatureType
from medfed.errors import ConfigError

__all__ = ["GLCMTexture", "GLRLMTexture", "glcm_features", "glrlm_features"]

_T = FeatureType.TEXTURE
_GLCM_NAMES = (
    "contrast",
    "dissimilarity",
    "homogeneity",
    "energy",
    "entropy",
    "correlation",
    "max_probability",
    "joint_average",
)
_GLRLM_NAMES = ("sre", "lre", "gln", "rln", "run_percentage", "lgre", "hgre")


def _levels_of(
    image: np.ndarray, mask: np.ndarray | None, levels: int, vr: tuple[float, float] | None
) -> np.ndarray:
    """Quantised slices (S, H, W), -1 outside the mask; range from the region only."""
    region = image[mask] if mask is not None else image
    low, high = vr if vr is not None else (float(region.min()), float(region.max()))
    if high > low:
        q = quantise(image, levels, (low, high))
    else:  # a flat region is one level
        q = np.zeros(image.shape, dtype=np.int64)
    if mask is not None:
        q = np.where(mask, q, -1)
    return q if q.ndim == 3 else q[None]


def glcm_features(p: np.ndarray) -> np.ndarray:
    """The 8 GLCM features (``_GLCM_NAMES`` order) of a normalised matrix p (L, L)."""
    n = p.shape[0]
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    mu_i, mu_j = np.sum(p * i), np.sum(p * j)
    sd_i = np.sqrt(np.sum(p * (i - mu_i) ** 2))
    sd_j = np.sqrt(np.sum(p * (j - mu_j) ** 2))
    cov = np.sum(p * (i - mu_i) * (j - mu_j))
    nz = p[p > 0]
    return np.array(
        [
            np.sum(p * (i - j) ** 2),
            np.sum(p * np.abs(i - j)),
            np.sum(p / (1.0 + (i - j) ** 2)),
            np.sum(p**2),
            -np.sum(nz * np.log2(nz)) + 0.0,
            cov / (sd_i * sd_j) if sd_i * sd_j > 1e-12 else 1.0,  # undefined when flat: 1
            p.max(),
            mu_i,
        ]
    )


def glrlm_features(r: np.ndarray, n_pixels: int) -> np.ndarray:
    """The 7 GLRLM features (``_GLRLM_NAMES`` order) of a count matrix r (L, max run);
    ``n_pixels``: pixels in the region, for the run percentage."""
    runs = r.sum()
    level = np.arange(1, r.shape[0] + 1, dtype=np.float64)[:, None]  # 1-based, as usual
    length = np.arange(1, r.shape[1] + 1, dtype=np.float64)[None, :]
    return np.array(
        [
            np.sum(r / length**2) / runs,
            np.sum(r * length**2) / runs,
            np.sum(r.sum(axis=1) ** 2) / runs,
            np.sum(r.sum(axis=0) ** 2) / runs,
            runs / n_pixels,
            np.sum(r / level**2) / runs,
            np.sum(r * level**2) / runs,
        ]
    )


def _check(levels: int, vr: tuple[float, float] | None) -> None:
    if levels < 2:
        raise ConfigError(f"levels must be >= 2, got {levels}")
    if vr is not None and not vr[0] < vr[1]:
        raise ConfigError(f"value_range must be (low, high) with low < high, got {vr}")


@dataclass(frozen=True)
class GLCMTexture(Extractor):
    """Co-occurrence texture; ``distances`` in pixels, ``symmetric`` counts both ways."""

    levels: int = 32
    value_range: tuple[float, float] | None = None
    distances: tuple[int, ...] = (1,)
    symmetric: bool = True

    name = "glcm"
    version = 1

    def __post_init__(self) -> None:
        _check(self.levels, self.value_range)
        if not self.distances or min(self.distances) < 1:
            raise ConfigError(f"distances must be positive pixels, got {self.distances}")

    def params(self) -> dict[str, Any]:
        return {
            "levels": self.levels,
            "value_range": None
            if self.value_range is None
            else [float(v) for v in self.value_range],
            "distances": list(self.distances),
            "symmetric": self.symmetric,
            "angles": [list(a) for a in ANGLES],
        }

    def feature_set(self) -> tuple[FeatureSpec, ...]:
        return tuple(FeatureSpec(n, _T) for n in _GLCM_NAMES)

    def _extract(self, image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        slices = _levels_of(image, mask, self.levels, self.value_range)
        rows = []
        for d in self.distances:
            for dy, dx in ANGLES:
                counts = np.sum(
                    [
                        glcm(s, self.levels, (dy * d, dx * d), symmetric=self.symmetric)
                        for s in slices
                    ],
                    axis=0,
                )
                total = np.sum(counts)
                if total > 0:  # a region too thin for this offset has no pairs
                    rows.append(glcm_features(counts / total))
        if not rows:
            return np.zeros(len(_GLCM_NAMES))
        return np.mean(rows, axis=0)


@dataclass(frozen=True)
class GLRLMTexture(Extractor):
    """Run-length texture over the four in-plane directions."""

    levels: int = 32
    value_range: tuple[float, float] | None = None

    name = "glrlm"
    version = 1

    def __post_init__(self) -> None:
        _check(self.levels, self.value_range)

    def params(self) -> dict[str, Any]:
        return {
            "levels": self.levels,
            "value_range": None
            if self.value_range is None
            else [float(v) for v in self.value_range],
            "angles": [list(a) for a in ANGLES],
        }

    def feature_set(self) -> tuple[FeatureSpec, ...]:
        return tuple(FeatureSpec(n, _T) for n in _GLRLM_NAMES)

    def _extract(self, image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        slices = _levels_of(image, mask, self.levels, self.value_range)
        n_pixels = int(np.sum(slices >= 0))
        rows = [
            glrlm_features(np.sum([glrlm(s, self.levels, a) for s in slices], axis=0), n_pixels)
            for a in ANGLES
        ]
        return np.mean(rows, axis=0)
