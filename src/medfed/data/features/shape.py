"""Shape features of a binary region (the mask; the image is not read), via
``skimage.measure.regionprops`` for 2-D and a marching-cubes surface for 3-D.

Units follow ``spacing`` (mm per pixel along each axis). 2-D perimeter and axis lengths
need square pixels: with unequal in-plane spacing they are scaled by the geometric mean
spacing, an approximation stated in the feature description. The whole mask is one
region, even when it has several connected parts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from skimage.measure import marching_cubes, mesh_surface_area, regionprops

from medfed.data.features.base import Extractor, FeatureSpec, FeatureType
from medfed.errors import ConfigError, DataError

__all__ = ["ShapeFeatures"]

_S = FeatureType.SHAPE


@dataclass(frozen=True)
class ShapeFeatures(Extractor):
    """Region geometry for ``dims``-D masks (2 or 3); ``spacing`` in mm per axis."""

    dims: int = 2
    spacing: tuple[float, ...] = (1.0, 1.0)

    name = "shape"
    version = 1

    def __post_init__(self) -> None:
        if self.dims not in (2, 3) or len(self.spacing) != self.dims or min(self.spacing) <= 0:
            raise ConfigError(
                f"need dims 2 or 3 and that many positive spacings, got {self.dims}, {self.spacing}"
            )

    def params(self) -> dict[str, Any]:
        return {"dims": self.dims, "spacing": [float(s) for s in self.spacing]}

    def feature_set(self) -> tuple[FeatureSpec, ...]:
        if self.dims == 2:
            return (
                FeatureSpec("area", _S, "mm^2"),
                FeatureSpec("perimeter", _S, "mm", "boundary length (square-pixel estimate)"),
                FeatureSpec("compactness", _S, "", "4*pi*area/perimeter^2, 1 for a disc"),
                FeatureSpec("eccentricity", _S, "", "of the ellipse with the same moments"),
                FeatureSpec("major_axis", _S, "mm"),
                FeatureSpec("minor_axis", _S, "mm"),
                FeatureSpec("equivalent_diameter", _S, "mm", "of the disc with the same area"),
                FeatureSpec("solidity", _S, "", "area over convex hull area"),
                FeatureSpec("extent", _S, "", "area over bounding box area"),
            )
        return (
            FeatureSpec("volume", _S, "mm^3"),
            FeatureSpec("surface_area", _S, "mm^2", "marching-cubes mesh area"),
            FeatureSpec("sphericity", _S, "", "pi^(1/3)(6V)^(2/3)/S, about 1 for a ball"),
            FeatureSpec("surface_to_volume", _S, "1/mm"),
            FeatureSpec("major_axis", _S, "mm"),
            FeatureSpec("minor_axis", _S, "mm"),
            FeatureSpec("equivalent_diameter", _S, "mm", "of the ball with the same volume"),
            FeatureSpec("extent", _S, "", "volume over bounding box volume"),
        )

    def _extract(self, image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        if mask is None:
            raise DataError("shape features need a mask (the region to measure)")
        if mask.ndim != self.dims:
            raise DataError(f"shape extractor set for {self.dims}-D masks, got {mask.ndim}-D")
        region = regionprops(mask.astype(np.uint8), spacing=self.spacing)[0]
        if self.dims == 2:
            return self._plane(region)
        return self._volume(mask, region)

    def _plane(self, region: Any) -> np.ndarray:
        area = float(region.area)  # already in mm^2 with spacing
        scale = math.sqrt(self.spacing[0] * self.spacing[1])
        perimeter = float(region.perimeter)
        if self.spacing[0] != self.spacing[1]:
            # regionprops measures perimeter in pixels for anisotropic grids
            perimeter = float(regionprops(region.image.astype(np.uint8))[0].perimeter) * scale
        compactness = 4.0 * math.pi * area / perimeter**2 if perimeter > 0 else 0.0
        return np.array(
            [
                area,
                perimeter,
                compactness,
                float(region.eccentricity),
                float(region.axis_major_length),
                float(region.axis_minor_length),
                2.0 * math.sqrt(area / math.pi),
                float(region.solidity),
                float(region.extent),
            ]
        )

    def _volume(self, mask: np.ndarray, region: Any) -> np.ndarray:
        volume = float(region.area)
        padded = np.pad(mask, 1).astype(np.float32)  # close the surface at the border
        verts, faces, _, _ = marching_cubes(padded, level=0.5, spacing=self.spacing)
        surface = float(mesh_surface_area(verts, faces))
        sphericity = math.pi ** (1 / 3) * (6 * volume) ** (2 / 3) / surface
        return np.array(
            [
                volume,
                surface,
                sphericity,
                surface / volume,
                float(region.axis_major_length),
                float(region.axis_minor_length),
                (6.0 * volume / math.pi) ** (1 / 3),
                float(region.extent),
            ]
        )
