"""Data preparation at the hospital, after reading and de-identification: cleaning
(5.3.3.2a-b), standardisation (5.3.3.2c), patient-level splits (5.3.3.2d) and the
per-party data card (5.2d). Inputs are ``ImageItem`` values, whatever read them."""

from __future__ import annotations

from medfed.data.prepare.clean import (
    CleaningReport,
    CleaningSpec,
    DropReason,
    NearDuplicateScope,
    clean,
)
from medfed.data.prepare.datacard import DataCard, build_data_card, suppress
from medfed.data.prepare.item import ImageItem, pixel_hash
from medfed.data.prepare.phash import hamming, phash
from medfed.data.prepare.splits import PatientSplit, Subset, patient_level_split, split_items
from medfed.data.prepare.standardise import (
    IntensityMode,
    OutputFormat,
    ResampleMethod,
    StandardiseConfig,
    percentile_scale,
    reorient,
    resample,
    standardise,
    standardise_many,
    window,
)

__all__ = [
    "CleaningReport",
    "CleaningSpec",
    "DataCard",
    "DropReason",
    "ImageItem",
    "IntensityMode",
    "NearDuplicateScope",
    "OutputFormat",
    "PatientSplit",
    "ResampleMethod",
    "StandardiseConfig",
    "Subset",
    "build_data_card",
    "clean",
    "hamming",
    "patient_level_split",
    "percentile_scale",
    "phash",
    "pixel_hash",
    "reorient",
    "resample",
    "split_items",
    "standardise",
    "standardise_many",
    "suppress",
    "window",
]
