"""What every feature extractor is: named, versioned, parameterised, with a declared
feature set (standard 5.3.2a-c), and a signature that parties compare before modeling
(5.3.2d).

Signature format: ``"{name}/v{version}/sha256:{hex}"`` where ``hex`` is the SHA-256 of the
canonical JSON of the parameters (sorted keys, no spaces). Two parties extract the same
features exactly when their signatures are equal.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from medfed.errors import DataError

__all__ = ["Extractor", "FeatureSpec", "FeatureType", "params_digest"]


class FeatureType(StrEnum):
    """Kinds of features named by the standard (5.3.2c)."""

    BASIC = "basic"  # direct measurements: min, max, range, size
    STATISTICAL = "statistical"  # moments, percentiles, entropy of the intensity histogram
    TEXTURE = "texture"  # co-occurrence and run-length statistics
    SHAPE = "shape"  # geometry of a segmented region
    EMBEDDING = "embedding"  # activations of a neural network


@dataclass(frozen=True)
class FeatureSpec:
    """One output column: its name, kind, unit (``""`` when dimensionless) and meaning."""

    name: str
    type: FeatureType
    unit: str = ""
    description: str = ""


def params_digest(params: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of ``params`` (tuples become lists)."""
    text = json.dumps(dict(params), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


class Extractor(ABC):
    """Turns one image (2-D or 3-D array, optional binary mask of the same shape) into a
    fixed float64 vector (k,), the same k names for every image."""

    name: str
    version: int

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The parameters that change the output, as JSON values."""

    @abstractmethod
    def feature_set(self) -> tuple[FeatureSpec, ...]:
        """The declared output columns, in order."""

    @abstractmethod
    def _extract(self, image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """The feature vector of one checked image."""

    def feature_names(self) -> tuple[str, ...]:
        return tuple(f"{self.name}.{spec.name}" for spec in self.feature_set())

    def signature(self) -> str:
        """``name/vVERSION/sha256:PARAMS``: equal exactly when the features are the same."""
        return f"{self.name}/v{self.version}/sha256:{params_digest(self.params())}"

    def describe(self) -> dict[str, Any]:
        """The declaration for a study manifest: name, version, parameters, signature and
        every feature with its type, unit and meaning (5.3.2a-c)."""
        return {
            "name": self.name,
            "version": self.version,
            "params": self.params(),
            "signature": self.signature(),
            "features": [
                {
                    "name": n,
                    "type": s.type.value,
                    "unit": s.unit,
                    "description": s.description,
                }
                for n, s in zip(self.feature_names(), self.feature_set(), strict=True)
            ],
        }

    def extract(self, image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """float64 (k,) features of ``image``; ``mask`` (same shape, bool) limits the region."""
        image = np.asarray(image)
        if image.ndim not in (2, 3) or image.size == 0:
            raise DataError(f"{self.name}: need a non-empty 2-D or 3-D image, got {image.shape}")
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != image.shape:
                raise DataError(f"{self.name}: mask {mask.shape} does not fit image {image.shape}")
            if not mask.any():
                raise DataError(f"{self.name}: the mask is empty")
        out = np.asarray(self._extract(image, mask), dtype=np.float64)
        if out.shape != (len(self.feature_set()),):
            raise DataError(
                f"{self.name}: produced {out.shape}, declared {len(self.feature_set())}"
            )
        return out

    def extract_many(
        self, images: Sequence[np.ndarray] | np.ndarray, masks: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """float64 (N, k): one row per image, in order."""
        if masks is not None and len(masks) != len(images):
            raise DataError(f"{self.name}: {len(masks)} masks for {len(images)} images")
        rows = [
            self.extract(image, None if masks is None else masks[i])
            for i, image in enumerate(images)
        ]
        return np.stack(rows) if rows else np.zeros((0, len(self.feature_set())))
