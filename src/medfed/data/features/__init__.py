"""Feature extraction (standard 5.3.2a-e): named, versioned, parameterised extractors that
give every image the same features, and the cross-party check of their signatures.

``CnnEmbedding`` needs torch and is imported on first use, so the rest of the package
works in a numpy-only environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from medfed.data.features.base import Extractor, FeatureSpec, FeatureType, params_digest
from medfed.data.features.first_order import FirstOrder
from medfed.data.features.registry import (
    EXTRACTOR_NAMES,
    build_extractor,
    check_same_extractors,
    pipeline_signature,
    signatures_digest,
)
from medfed.data.features.shape import ShapeFeatures
from medfed.data.features.texture import GLCMTexture, GLRLMTexture

if TYPE_CHECKING:
    from medfed.data.features.embedding import CnnEmbedding

__all__ = [
    "EXTRACTOR_NAMES",
    "CnnEmbedding",
    "Extractor",
    "FeatureSpec",
    "FeatureType",
    "FirstOrder",
    "GLCMTexture",
    "GLRLMTexture",
    "ShapeFeatures",
    "build_extractor",
    "check_same_extractors",
    "params_digest",
    "pipeline_signature",
    "signatures_digest",
]


def __getattr__(name: str) -> Any:
    if name == "CnnEmbedding":
        from medfed.data.features.embedding import CnnEmbedding

        return CnnEmbedding
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
