"""Radiomics feature tables: named extractors over every image of a MedMNIST subset
(standard 5.3.2a-e), as the tabular datasets the logistic-regression scenario trains on.

Each image gets a region of interest from Otsu's threshold (the darker side: in breast
ultrasound the lesion is hypoechoic) and first-order, GLCM, GLRLM and shape features of
that region. Every extractor is fixed here, by name, version and parameters, so all parties
compute the same columns; the signatures travel with each party's data file
(``extractors``) for the check before modeling (5.3.2d). Features are computed once per
source file and kept in a cache keyed by the file's MD5 and the pipeline signature.
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import numpy as np
from skimage.filters import threshold_otsu

from medfed.data.features import (
    Extractor,
    FirstOrder,
    GLCMTexture,
    GLRLMTexture,
    ShapeFeatures,
    pipeline_signature,
)
from medfed.data.medmnist import MedMNIST, load_medmnist
from medfed.errors import DataIntegrityError

# Table flag -> the MedMNIST subset (28 x 28 grey images) its rows are computed from.
RADIOMICS_TABLES = {"breastmnist_radiomics": "breastmnist"}
SPLITS = ("train", "val", "test")
_GREY_RANGE = (0.0, 255.0)  # uint8 images: one fixed binning for every image and party


def radiomics_extractors() -> tuple[Extractor, ...]:
    """The extractors, in column order."""
    return (
        FirstOrder(value_range=_GREY_RANGE),
        GLCMTexture(levels=32, value_range=_GREY_RANGE),
        GLRLMTexture(levels=32, value_range=_GREY_RANGE),
        ShapeFeatures(dims=2, spacing=(1.0, 1.0)),
    )


def table_signatures(flag: str) -> list[str]:
    """The extractor signatures of table ``flag`` (empty for a table not built by extractors)."""
    return [e.signature() for e in radiomics_extractors()] if flag in RADIOMICS_TABLES else []


def feature_names() -> tuple[str, ...]:
    return tuple(name for e in radiomics_extractors() for name in e.feature_names())


def roi_mask(image: np.ndarray) -> np.ndarray:
    """The darker side of Otsu's threshold; the whole image when that side is empty or flat."""
    if image.min() == image.max():
        return np.ones(image.shape, dtype=bool)
    mask = image <= threshold_otsu(image)
    return mask if mask.any() else np.ones(image.shape, dtype=bool)


def radiomics_features(images: np.ndarray) -> np.ndarray:
    """float64 (N, k): every extractor's features of each image (N, H, W) inside its ROI."""
    extractors = radiomics_extractors()
    rows = []
    for image in images:
        mask = roi_mask(image)
        rows.append(np.concatenate([e.extract(image, mask) for e in extractors]))
    return np.stack(rows) if rows else np.zeros((0, len(feature_names())))


def _cache_dir() -> Path:
    return Path(os.environ.get("MEDFED_CACHE_DIR") or Path.home() / ".cache" / "medfed") / "features"


@functools.lru_cache(maxsize=4)
def _features_of(path: str, md5: str, flag: str) -> dict[str, np.ndarray]:
    """Raw features of every split of the MedMNIST file at ``path``: computed once per
    process, and once per machine when the cache folder is writable."""
    signature = pipeline_signature(radiomics_extractors()).rsplit(":", 1)[-1][:16]
    cached = _cache_dir() / f"{flag}-{md5}-{signature}.npz"
    if cached.is_file():
        try:
            with np.load(cached, allow_pickle=False) as npz:
                return {s: npz[s] for s in SPLITS}
        except (OSError, ValueError, KeyError):
            cached.unlink(missing_ok=True)  # a damaged cache is recomputed, never trusted
    source = load_medmnist(flag, size=28, data_dir=Path(path).parent)
    features = {s: radiomics_features(getattr(source, s).images) for s in SPLITS}
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".part")
    except OSError:
        return features  # a read-only home: the features are still right, only not kept
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **features)  # type: ignore[arg-type]
        os.replace(tmp, cached)
    except OSError:
        pass
    finally:
        Path(tmp).unlink(missing_ok=True)
    return features


def radiomics_splits(flag: str, data_dir: Path | None) -> tuple[MedMNIST, dict[str, np.ndarray]]:
    """The source subset of table ``flag`` and its raw float64 features per split."""
    source = load_medmnist(RADIOMICS_TABLES[flag], size=28, data_dir=data_dir)
    features = _features_of(str(source.path), source.md5, RADIOMICS_TABLES[flag])
    for split in SPLITS:
        if len(features[split]) != len(getattr(source, split).labels):
            raise DataIntegrityError(f"cached radiomics features of {flag} do not fit its {split} split")
    return source, features
