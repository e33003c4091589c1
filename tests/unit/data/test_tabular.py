"""The breast-cancer table, its horizontal and vertical splits, and image statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medfed.data.tabular import (
    Table,
    fit_standardizer,
    image_statistics,
    is_test_id,
    load_breast_cancer_table,
    select_ids,
    split_columns,
    split_rows,
)
from medfed.errors import DataError


@pytest.fixture(scope="module")
def table() -> Table:
    return load_breast_cancer_table(seed=7)


def test_breast_cancer_table_has_ids_features_and_malignant_as_positive(table: Table) -> None:
    assert table.features.shape == (569, 30) and table.features.dtype == np.float64
    assert table.labels is not None and table.labels.dtype == np.int64
    assert int(table.labels.sum()) == 212  # malignant cases in the Wisconsin data
    assert table.ids[0] == "P0001" and table.ids[-1] == "P0569"
    assert len(table.feature_names) == 30 and table.feature_names[0] == "mean radius"
    again = load_breast_cancer_table(seed=7)
    assert np.array_equal(again.features, table.features)
    other = load_breast_cancer_table(seed=8)
    assert not np.array_equal(other.features, table.features)


@pytest.mark.clause("5.3.3.2d")
def test_horizontal_split_gives_disjoint_stratified_patients(table: Table) -> None:
    parts = split_rows(table, ["a", "b", "c"], seed=1, test_fraction=0.25)
    seen: list[str] = []
    for part in parts.values():
        ids = part.train.ids + part.test.ids
        seen.extend(ids)
        assert not set(part.train.ids) & set(part.test.ids)
        assert part.train.features.shape[1] == 30
        labels = np.r_[part.train.labels, part.test.labels]
        assert abs(labels.mean() - 212 / 569) < 0.01
        assert abs(len(part.test) / len(ids) - 0.25) < 0.02
    assert sorted(seen) == sorted(table.ids)  # disjoint and complete
    again = split_rows(table, ["a", "b", "c"], seed=1, test_fraction=0.25)
    assert again["b"].test.ids == parts["b"].test.ids


@pytest.mark.clause("5.3.3.2d")
def test_vertical_split_gives_disjoint_columns_and_labels_to_one_party(table: Table) -> None:
    parts = split_columns(table, ["guest", "h1", "h2"], label_party="guest", seed=3)
    names = [n for p in parts.values() for n in p.train.feature_names]
    assert sorted(names) == sorted(table.feature_names)
    assert parts["guest"].train.labels is not None
    assert parts["h1"].train.labels is None and parts["h2"].test.labels is None
    # Full overlap: same patients, same order, at every party.
    assert parts["guest"].train.ids == parts["h1"].train.ids == parts["h2"].train.ids
    assert 0.15 < len(parts["guest"].test) / 569 < 0.25
    col = table.feature_names.index(parts["h1"].train.feature_names[0])
    row = table.ids.index(parts["h1"].train.ids[0])
    assert parts["h1"].train.features[0, 0] == table.features[row, col]


@pytest.mark.clause("5.3.3.2d")
def test_partial_overlap_keeps_different_patients_but_one_common_split(table: Table) -> None:
    parts = split_columns(
        table, ["guest", "host"], label_party="guest", seed=5, overlap=0.8, test_fraction=0.3
    )
    g = set(parts["guest"].train.ids) | set(parts["guest"].test.ids)
    h = set(parts["host"].train.ids) | set(parts["host"].test.ids)
    assert len(g) == len(h) == round(0.8 * 569)
    assert g != h and len(g & h) > 0.5 * 569
    for pid in g & h:  # a shared patient is in the same split everywhere
        assert (pid in parts["guest"].test.ids) == (pid in parts["host"].test.ids)
        assert (pid in parts["guest"].test.ids) == is_test_id(pid, seed=5, test_fraction=0.3)


def test_split_options_are_checked(table: Table) -> None:
    with pytest.raises(DataError, match="label party"):
        split_columns(table, ["a", "b"], label_party="c", seed=0)
    with pytest.raises(DataError, match="overlap"):
        split_columns(table, ["a", "b"], label_party="a", seed=0, overlap=0.0)
    with pytest.raises(DataError, match="distinct"):
        split_rows(table, ["a", "a"], seed=0)
    with pytest.raises(DataError, match="test_fraction"):
        split_rows(table, ["a"], seed=0, test_fraction=1.0)


def test_standardiser_uses_training_rows_only(table: Table) -> None:
    parts = split_rows(table, ["a"], seed=0, test_fraction=0.3)
    scaler = fit_standardizer(parts["a"].train.features)
    train = scaler.apply(parts["a"].train.features)
    test = scaler.apply(parts["a"].test.features)
    assert np.allclose(train.mean(axis=0), 0.0) and np.allclose(train.std(axis=0), 1.0)
    assert not np.allclose(test.mean(axis=0), 0.0)  # test statistics did not enter the fit
    constant = fit_standardizer(np.ones((4, 2)))
    assert np.array_equal(constant.apply(np.ones((2, 2))), np.zeros((2, 2)))
    with pytest.raises(DataError):
        scaler.apply(np.ones((3, 4)))


def test_select_ids_orders_rows_and_refuses_unknown_ids(table: Table) -> None:
    picked = select_ids(table, ["P0010", "P0003"])
    assert picked.ids == ("P0010", "P0003")
    assert np.array_equal(picked.features[1], table.features[2])
    with pytest.raises(DataError, match="not in the table"):
        select_ids(table, ["X"])
    with pytest.raises(DataError, match="duplicate"):
        Table(("a", "a"), np.zeros((2, 1)), None, ("f",))


@pytest.mark.clause("5.3.2c", "5.3.2e")
def test_image_statistics_on_hand_checked_images() -> None:
    stripes = np.zeros((1, 8, 8), dtype=np.uint8)
    stripes[0, 1::2] = 255  # horizontal stripes: rows alternate 0 and 255
    flat = np.full((1, 8, 8), 7, dtype=np.uint8)
    features, names = image_statistics(np.concatenate([stripes, flat]))
    f = dict(zip(names, features[0], strict=True))
    assert f["mean"] == pytest.approx(127.5) and f["std"] == pytest.approx(127.5)
    assert f["skewness"] == pytest.approx(0.0) and f["kurtosis"] == pytest.approx(-2.0)
    assert f["entropy"] == pytest.approx(1.0)
    # Levels 0 and 31: 0 degrees pairs equal, the three other directions differ by 31.
    assert f["glcm_contrast"] == pytest.approx(3 * 31**2 / 4)
    assert f["glcm_correlation"] == pytest.approx(0.25 * 1 + 0.75 * -1)
    g = dict(zip(names, features[1], strict=True))
    assert (
        g["std"] == 0 and g["entropy"] == 0 and g["glcm_energy"] == 1 and g["glcm_correlation"] == 1
    )
    assert g["p10"] == g["p90"] == 7


@pytest.mark.clause("5.3.2d")
def test_image_statistics_extracts_the_same_features_from_every_breastmnist_image(
    medmnist_dir: Path,
) -> None:
    from medfed.data import load_medmnist

    data = load_medmnist("breastmnist", data_dir=medmnist_dir, download=False)
    images = data.train.images[:200]
    features, names = image_statistics(images)
    assert features.shape == (200, len(names)) and np.isfinite(features).all()
    one, _ = image_statistics(images[5:6])
    assert np.allclose(one[0], features[5])  # per image, independent of the batch


def test_image_statistics_refuses_other_inputs() -> None:
    with pytest.raises(DataError):
        image_statistics(np.zeros((2, 8, 8), dtype=np.float32))
    with pytest.raises(DataError):
        image_statistics(np.zeros((8, 8), dtype=np.uint8))
