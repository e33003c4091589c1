"""Standardisation to one format, size and intensity range (5.3.3.2c)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from medfed.data.prepare import (
    ImageItem,
    IntensityMode,
    OutputFormat,
    ResampleMethod,
    StandardiseConfig,
    percentile_scale,
    reorient,
    standardise,
    standardise_many,
    window,
)
from medfed.errors import ConfigError, DataError


@pytest.mark.clause("5.3.3.2c")
def test_window_maps_hu_linearly_and_clips() -> None:
    hu = np.array([-1000, -160, 40, 240, 3000], dtype=np.int16)
    out = window(hu, centre=40.0, width=400.0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-7)
    np.testing.assert_allclose(window(np.array([-600.0]), centre=-600.0, width=1500.0), [0.5])


@pytest.mark.clause("5.3.3.2c")
def test_ct_item_becomes_target_shape_uint8_with_windowing() -> None:
    hu = np.full((512, 512), -1000, np.int16)
    hu[:, 256:] = 40  # soft tissue at the window centre
    item = ImageItem.from_array("a", hu, patient="p", modality="CT", spacing=(0.7, 0.7))
    out = standardise(item, StandardiseConfig(target_shape=(128, 128)))
    assert out.pixels is not None and out.pixels.shape == (128, 128)
    assert out.pixels.dtype == np.uint8
    assert out.pixels[:, :60].max() == 0 and set(np.unique(out.pixels[:, 70:])) == {128}
    assert out.spacing == pytest.approx((2.8, 2.8))
    assert out.content_hash == item.content_hash


@pytest.mark.clause("5.3.3.2c")
def test_percentile_scaling_for_other_modalities_and_float_output() -> None:
    x = np.arange(10000, dtype=np.float64).reshape(100, 100)
    scaled = percentile_scale(x, 1.0, 99.0)
    assert scaled.min() == 0.0 and scaled.max() == 1.0
    item = ImageItem.from_array("m", x, patient="p", modality="MR")
    config = StandardiseConfig(target_shape=(50, 50), output=OutputFormat.FLOAT32)
    out = standardise(item, config).pixels
    assert out is not None and out.dtype == np.float32 and out.shape == (50, 50)
    assert 0.0 <= out.min() and out.max() <= 1.0
    area = dataclasses.replace(config, resample_method=ResampleMethod.AREA)
    assert standardise(item, area).pixels.shape == (50, 50)  # type: ignore[union-attr]


@pytest.mark.clause("5.3.3.2c")
def test_resampling_to_spacing_then_crop_or_pad_to_shape() -> None:
    volume = np.random.default_rng(0).integers(0, 1000, (20, 40, 60)).astype(np.int16)
    item = ImageItem.from_array("v", volume, patient="p", modality="MR", spacing=(2.0, 1.0, 0.5))
    config = StandardiseConfig(
        target_shape=(32, 32, 32), target_spacing=(1.0, 1.0, 1.0), intensity=IntensityMode.MINMAX
    )
    out = standardise(item, config)
    assert out.pixels.shape == (32, 32, 32) and out.spacing == (1.0, 1.0, 1.0)  # type: ignore[union-attr]
    stacked = standardise_many([item, item], config)
    assert stacked.shape == (2, 32, 32, 32)


@pytest.mark.clause("5.3.3.2c")
def test_reorientation_to_canonical_axes() -> None:
    image = np.arange(24).reshape(2, 3, 4)
    # array axis 0 runs along world z backwards, axis 1 along x, axis 2 along y
    direction = (0, 0, -1, 1, 0, 0, 0, 1, 0)
    out, spacing = reorient(image, (3.0, 1.0, 2.0), direction)
    assert out.shape == (3, 4, 2) and spacing == (1.0, 2.0, 3.0)
    np.testing.assert_array_equal(out, np.flip(np.transpose(image, (1, 2, 0)), axis=2))
    with pytest.raises(DataError):
        reorient(image, (1.0, 1.0, 1.0), (1, 0, 0, 1, 0, 0, 0, 0, 1))
    flipped = StandardiseConfig(target_shape=None, flip_axes=(1,), intensity=IntensityMode.MINMAX)
    item = ImageItem.from_array("i", np.arange(16.0).reshape(4, 4), patient="p", modality="MR")
    np.testing.assert_array_equal(standardise(item, flipped).pixels[:, 0], [51, 119, 187, 255])  # type: ignore[index]


@pytest.mark.clause("5.3.3.2c")
def test_config_digest_is_stable_and_changes_with_every_parameter() -> None:
    base = StandardiseConfig()
    assert base.digest() == StandardiseConfig().digest()
    assert len(base.digest()) == 64
    changes = {
        "target_shape": (64, 64),
        "target_spacing": (1.0, 1.0),
        "intensity": IntensityMode.PERCENTILE,
        "window_centre": 50.0,
        "window_width": 350.0,
        "percentiles": (0.5, 99.5),
        "output": OutputFormat.FLOAT32,
        "anti_aliasing": False,
        "interpolation_order": 3,
        "resample_method": ResampleMethod.AREA,
        "axes_order": (1, 0),
        "flip_axes": (0,),
        "canonical_orientation": False,
    }
    assert set(changes) == {f.name for f in dataclasses.fields(StandardiseConfig)}
    digests = {dataclasses.replace(base, **{k: v}).digest() for k, v in changes.items()}
    assert len(digests) == len(changes) and base.digest() not in digests


def test_invalid_configs_and_items_are_refused() -> None:
    with pytest.raises(ConfigError):
        StandardiseConfig(window_width=0)
    with pytest.raises(ConfigError):
        StandardiseConfig(percentiles=(99.0, 1.0))
    with pytest.raises(DataError):
        standardise(ImageItem("x", None, (1.0, 1.0), "CT", "p", None, "h"), StandardiseConfig())
    item = ImageItem.from_array("v", np.ones((4, 8, 8)), patient="p", modality="CT")
    with pytest.raises(DataError):
        standardise(item, StandardiseConfig(target_shape=(8, 8)))
