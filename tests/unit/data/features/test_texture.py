"""GLCM and GLRLM against matrices counted by hand, and their features (5.3.2e)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.feature import graycoprops

from medfed.data.features import GLCMTexture, GLRLMTexture
from medfed.data.features._matrices import glcm, glrlm
from medfed.data.features.texture import glcm_features

IMAGE = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0, 2, 2, 2], [2, 2, 3, 3]])


@pytest.mark.clause("5.3.2e")
def test_glcm_matches_hand_counted_pairs() -> None:
    right = [[2, 2, 1, 0], [0, 2, 0, 0], [0, 0, 3, 1], [0, 0, 0, 1]]
    down = [[3, 0, 2, 0], [0, 2, 2, 0], [0, 0, 1, 2], [0, 0, 0, 0]]
    np.testing.assert_array_equal(glcm(IMAGE, 4, (0, 1), symmetric=False), right)
    np.testing.assert_array_equal(glcm(IMAGE, 4, (1, 0), symmetric=False), down)
    np.testing.assert_array_equal(glcm(IMAGE, 4, (0, 1)), np.array(right) + np.array(right).T)
    # 135 degrees: (r, c) with (r + 1, c - 1)
    diag = glcm(IMAGE, 4, (1, -1), symmetric=False)
    assert diag.sum() == 9 and diag[0, 0] == 2 and diag[1, 2] == 2 and diag[1, 0] == 1


@pytest.mark.clause("5.3.2e")
def test_glcm_features_agree_with_scikit_image() -> None:
    counts = glcm(IMAGE, 4, (0, 1))
    p = counts / counts.sum()
    ours = dict(zip(GLCMTexture().feature_set(), glcm_features(p), strict=True))
    ref = p[:, :, None, None]
    for name in ("contrast", "dissimilarity", "homogeneity", "energy", "correlation"):
        key = {"energy": "ASM"}.get(name, name)
        spec = next(s for s in ours if s.name == name)
        assert ours[spec] == pytest.approx(graycoprops(ref, key)[0, 0])


@pytest.mark.clause("5.3.2e")
def test_glrlm_matches_hand_counted_runs() -> None:
    q = np.array([[0, 0, 1], [1, 1, 1], [0, 1, 0]])
    np.testing.assert_array_equal(glrlm(q, 2, (0, 1)), [[2, 1, 0], [2, 0, 1]])
    np.testing.assert_array_equal(glrlm(q, 2, (1, 0)), [[4, 0, 0], [1, 2, 0]])
    np.testing.assert_array_equal(glrlm(q, 2, (1, 1)), [[4, 0, 0], [3, 1, 0]])
    np.testing.assert_array_equal(glrlm(q, 2, (1, -1)), [[4, 0, 0], [1, 2, 0]])
    masked = np.where(np.eye(3, dtype=bool), -1, q)  # the diagonal is outside the region
    np.testing.assert_array_equal(glrlm(masked, 2, (0, 1)), [[2, 0, 0], [4, 0, 0]])


@pytest.mark.clause("5.3.2e")
def test_texture_of_flat_and_striped_images() -> None:
    flat = np.full((8, 8), 7.0)
    names = [s.name for s in GLRLMTexture().feature_set()]
    runs = dict(zip(names, GLRLMTexture(levels=4).extract(flat), strict=True))
    assert runs["run_percentage"] == pytest.approx((8 + 8 + 15 + 15) / 4 / 64)
    stripes = np.tile([0.0, 1.0], (8, 4))  # vertical stripes: runs of 8 down each column
    g = dict(
        zip(
            [s.name for s in GLCMTexture().feature_set()],
            GLCMTexture(levels=2).extract(stripes),
            strict=True,
        )
    )
    assert g["contrast"] == pytest.approx((1 + 1 + 0 + 1) / 4)
    volume = np.stack([stripes, stripes])
    np.testing.assert_allclose(
        GLCMTexture(levels=2).extract(volume), GLCMTexture(levels=2).extract(stripes)
    )
