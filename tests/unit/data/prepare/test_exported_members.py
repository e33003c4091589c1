"""The public surface of medfed.data.prepare and medfed.data.features."""

from __future__ import annotations

import subprocess
import sys

import medfed.data.features
import medfed.data.prepare

PREPARE = {
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
}
FEATURES = {
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
}


def test_public_api_is_exactly_the_listed_names() -> None:
    assert set(medfed.data.prepare.__all__) == PREPARE
    assert set(medfed.data.features.__all__) == FEATURES
    for module, names in ((medfed.data.prepare, PREPARE), (medfed.data.features, FEATURES)):
        for name in names:
            assert getattr(module, name) is not None


def test_preparation_and_handcrafted_features_do_not_pull_in_torch() -> None:
    code = (
        "import sys, medfed.data.prepare, medfed.data.features as f; f.build_extractor('glcm'); "
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
