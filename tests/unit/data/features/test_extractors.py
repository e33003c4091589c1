"""Extractors: the same features from every image, named, versioned, parameterised and
compared across parties before modeling (5.3.2a-e)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medfed.data.features import (
    EXTRACTOR_NAMES,
    FeatureType,
    FirstOrder,
    GLCMTexture,
    ShapeFeatures,
    build_extractor,
    check_same_extractors,
    pipeline_signature,
)
from medfed.data.tabular import image_statistics
from medfed.errors import ConfigError, DataError


def _images(n: int = 3, size: int = 32) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, size, size)).astype(np.uint8)


@pytest.mark.clause("5.3.2d", "5.3.2e")
@pytest.mark.parametrize("name", ["first_order", "glcm", "glrlm"])
def test_identical_images_give_identical_features(name: str) -> None:
    extractor = build_extractor(name)
    images = _images()
    first = extractor.extract_many(images)
    again = build_extractor(name).extract_many(images.copy())
    assert first.shape == (3, len(extractor.feature_set()))
    np.testing.assert_array_equal(first, again)
    assert np.isfinite(first).all()
    assert not np.array_equal(first[0], first[1])


@pytest.mark.clause("5.3.2e")
def test_first_order_agrees_with_the_tabular_image_statistics() -> None:
    images = _images()
    legacy, names = image_statistics(images)
    ours = FirstOrder(bin_count=256, value_range=(0.0, 256.0)).extract_many(images)
    cols = dict(zip(FirstOrder().feature_names(), ours.T, strict=True))
    for legacy_name, ours_name in [
        ("mean", "mean"),
        ("std", "std"),
        ("skewness", "skewness"),
        ("kurtosis", "kurtosis"),
        ("p90", "p90"),
        ("entropy", "entropy"),
    ]:
        np.testing.assert_allclose(
            cols[f"first_order.{ours_name}"], legacy[:, names.index(legacy_name)]
        )


@pytest.mark.clause("5.3.2e")
def test_first_order_respects_the_mask() -> None:
    image = np.zeros((10, 10))
    image[:5] = 100.0
    mask = np.zeros((10, 10), bool)
    mask[:5] = True
    values = dict(zip(FirstOrder().feature_names(), FirstOrder().extract(image, mask), strict=True))
    assert values["first_order.mean"] == 100.0 and values["first_order.n_voxels"] == 50
    assert values["first_order.std"] == 0.0 and values["first_order.entropy"] == 0.0
    with pytest.raises(DataError):
        FirstOrder().extract(image, np.zeros((10, 10), bool))


@pytest.mark.clause("5.3.2e")
def test_shape_features_of_a_disc_and_a_square() -> None:
    y, x = np.mgrid[:101, :101]
    disc = (y - 50) ** 2 + (x - 50) ** 2 <= 30**2
    values = dict(
        zip(
            [s.name for s in ShapeFeatures().feature_set()],
            ShapeFeatures(spacing=(0.5, 0.5)).extract(disc, disc),
            strict=True,
        )
    )
    assert values["area"] == pytest.approx(math.pi * 15**2, rel=0.01)
    assert values["perimeter"] == pytest.approx(2 * math.pi * 15, rel=0.06)
    assert values["eccentricity"] == pytest.approx(0.0, abs=0.01)
    assert values["compactness"] > 0.85
    square = np.zeros((40, 40), bool)
    square[10:30, 10:30] = True
    sq = dict(
        zip(
            [s.name for s in ShapeFeatures().feature_set()],
            ShapeFeatures().extract(square, square),
            strict=True,
        )
    )
    assert sq["area"] == 400 and sq["extent"] == 1.0 and sq["solidity"] == 1.0
    # pixel-centre perimeter: pi/4 in the continuum, a bit more on a 20-pixel grid
    assert math.pi / 4 < sq["compactness"] < values["compactness"]
    ball = np.sum((np.indices((41, 41, 41)) - 20) ** 2, axis=0) <= 15**2
    vol = dict(
        zip(
            [s.name for s in ShapeFeatures(dims=3, spacing=(1, 1, 1)).feature_set()],
            ShapeFeatures(dims=3, spacing=(1.0, 1.0, 1.0)).extract(ball, ball),
            strict=True,
        )
    )
    assert vol["volume"] == pytest.approx(4 / 3 * math.pi * 15**3, rel=0.01)
    assert vol["surface_area"] == pytest.approx(4 * math.pi * 15**2, rel=0.1)
    with pytest.raises(DataError):
        ShapeFeatures().extract(disc)


@pytest.mark.clause("5.3.2c", "5.3.2e")
def test_cnn_embedding_has_fixed_shape_and_is_deterministic() -> None:
    images = _images(5, 28)
    extractor = build_extractor("cnn_embedding", model="cnn2d", layer="head.2", batch_size=2)
    out = extractor.extract_many(images)
    assert out.shape == (5, 128)
    np.testing.assert_array_equal(
        out, build_extractor("cnn_embedding", batch_size=2).extract_many(images)
    )
    np.testing.assert_allclose(extractor.extract(images[3]), out[3], rtol=1e-6, atol=1e-7)
    assert {s.type for s in extractor.feature_set()} == {FeatureType.EMBEDDING}
    other_weights = build_extractor("cnn_embedding", seed=1, batch_size=2)
    assert other_weights.signature() != extractor.signature()
    with pytest.raises(ConfigError):
        build_extractor("cnn_embedding", layer="no.such.layer")


@pytest.mark.clause("5.3.2a-b", "5.3.2c")
def test_every_extractor_declares_its_feature_set() -> None:
    kinds = set()
    for name in EXTRACTOR_NAMES:
        described = build_extractor(name).describe()
        assert described["name"] == name and described["signature"].startswith(f"{name}/v")
        names = [f["name"] for f in described["features"]]
        assert len(names) == len(set(names)) > 0 and all(n.startswith(f"{name}.") for n in names)
        kinds |= {f["type"] for f in described["features"]}
    assert kinds == {t.value for t in FeatureType}


@pytest.mark.clause("5.3.2d")
def test_signature_changes_with_version_and_parameters() -> None:
    base = GLCMTexture()
    assert base.signature() == build_extractor("glcm", levels=32, distances=[1]).signature()
    assert base.signature() != GLCMTexture(levels=16).signature()
    assert base.signature() != GLCMTexture(distances=(1, 2)).signature()

    class GLCMv2(GLCMTexture):
        version = 2

    assert GLCMv2().signature().startswith("glcm/v2/")
    assert GLCMv2().signature().split("/")[2] == base.signature().split("/")[2]


@pytest.mark.clause("5.3.2d")
def test_differing_parties_are_named_before_modeling() -> None:
    class GLCMv2(GLCMTexture):
        version = 2

    same = GLCMTexture().signature()
    assert check_same_extractors({"A": same, "B": same}) == same
    with pytest.raises(DataError) as err:
        check_same_extractors(
            {
                "A": same,
                "B": same,
                "C": GLCMTexture(levels=8).signature(),
                "D": GLCMv2().signature(),
            }
        )
    message = str(err.value)
    assert "differing: C, D" in message
    assert "parties C: same extractor and version, different parameters" in message
    assert "parties D: different version (v2 instead of v1)" in message
    pipes = {
        "A": pipeline_signature([FirstOrder(), GLCMTexture()]),
        "B": pipeline_signature([GLCMTexture(), FirstOrder()]),
    }
    with pytest.raises(DataError, match="differing: B"):
        check_same_extractors(pipes)


def test_unknown_extractors_and_parameters_are_refused() -> None:
    with pytest.raises(ConfigError, match="available"):
        build_extractor("wavelet")
    with pytest.raises(ConfigError, match="glcm"):
        build_extractor("glcm", bins=3)
    with pytest.raises(ConfigError):
        GLCMTexture(levels=1)
