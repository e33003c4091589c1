"""A hospital's own data file: round trip, atomic write, and every way it can be wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from medfed.data import (
    LocalDataset,
    Split,
    load_local_dataset,
    load_medmnist,
    save_local_dataset,
    train_val_split,
)
from medfed.errors import DataError, DataIntegrityError, DataUnavailableError


def _split(n: int, shape: tuple[int, ...], n_classes: int, seed: int = 0) -> Split:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    return Split(images, rng.integers(0, n_classes, size=n).astype(np.int64))


def _write_raw(path: Path, **overrides: Any) -> Path:
    """A pneumoniamnist file as save_local_dataset would write it, with ``overrides``."""
    train, val = _split(20, (28, 28), 2), _split(5, (28, 28), 2, seed=1)
    arrays: dict[str, Any] = {
        "train_images": train.images,
        "train_labels": train.labels,
        "val_images": val.images,
        "val_labels": val.labels,
        "meta": np.array(json.dumps({"flag": "pneumoniamnist", "size": 28})),
    }
    arrays.update(overrides)
    with path.open("wb") as f:
        np.savez(f, **{k: v for k, v in arrays.items() if v is not None})
    return path


@pytest.mark.parametrize(
    ("flag", "size", "shape", "n_classes", "dims"),
    [
        ("pneumoniamnist", 28, (28, 28), 2, 2),
        ("retinamnist", 28, (28, 28, 3), 5, 2),
        ("breastmnist", 64, (64, 64), 2, 2),
        ("adrenalmnist3d", 28, (28, 28, 28), 2, 3),
    ],
)
def test_a_saved_dataset_loads_back_unchanged(
    tmp_path: Path, flag: str, size: int, shape: tuple[int, ...], n_classes: int, dims: int
) -> None:
    train, val = _split(30, shape, n_classes), _split(6, shape, n_classes, seed=1)
    path = tmp_path / "site" / "data.npz"
    save_local_dataset(path, flag=flag, size=size, train=train, val=val)
    loaded = load_local_dataset(path)
    assert isinstance(loaded, LocalDataset)
    assert (loaded.flag, loaded.size, loaded.n_classes, loaded.dims) == (
        flag,
        size,
        n_classes,
        dims,
    )
    assert loaded.info.flag == flag
    assert np.array_equal(loaded.train.images, train.images)
    assert np.array_equal(loaded.train.labels, train.labels)
    assert np.array_equal(loaded.val.images, val.images)
    assert loaded.val.labels.dtype == np.int64 and np.array_equal(loaded.val.labels, val.labels)


def test_a_real_hospital_share_round_trips(medmnist_dir: Path, tmp_path: Path) -> None:
    data = load_medmnist("breastmnist", data_dir=medmnist_dir, download=False)
    share = np.arange(0, len(data.train), 3)
    tr, va = train_val_split(share, data.train.labels, val_fraction=0.1, seed=0)
    train = Split(data.train.images[tr], data.train.labels[tr])
    val = Split(data.train.images[va], data.train.labels[va])
    save_local_dataset(tmp_path / "h1.npz", flag="breastmnist", size=28, train=train, val=val)
    loaded = load_local_dataset(tmp_path / "h1.npz")
    assert len(loaded.train) + len(loaded.val) == len(share)
    assert np.array_equal(loaded.train.labels, data.train.labels[tr])


def test_an_empty_validation_split_is_allowed(tmp_path: Path) -> None:
    empty = Split(np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64))
    save_local_dataset(
        tmp_path / "d.npz", flag="pneumoniamnist", size=28, train=_split(4, (28, 28), 2), val=empty
    )
    assert len(load_local_dataset(tmp_path / "d.npz").val) == 0


def test_saving_replaces_the_file_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    for n in (10, 12):
        save_local_dataset(
            path,
            flag="pneumoniamnist",
            size=28,
            train=_split(n, (28, 28), 2),
            val=_split(2, (28, 28), 2),
        )
    assert len(load_local_dataset(path).train) == 12
    assert [p.name for p in tmp_path.iterdir()] == ["d.npz"]


def test_saving_data_that_would_not_load_back_is_refused(tmp_path: Path) -> None:
    bad = Split(np.zeros((3, 28, 28), np.uint8), np.array([0, 1, 7]))
    with pytest.raises(DataError, match=r"refusing to write .*outside pneumoniamnist's classes"):
        save_local_dataset(tmp_path / "d.npz", flag="pneumoniamnist", size=28, train=bad, val=bad)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_file_is_unavailable_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(DataUnavailableError, match=str(tmp_path / "nope.npz")):
        load_local_dataset(tmp_path / "nope.npz")


def test_labels_in_the_official_n_by_1_layout_are_accepted(tmp_path: Path) -> None:
    path = _write_raw(tmp_path / "d.npz", train_labels=np.ones((20, 1), np.uint8))
    loaded = load_local_dataset(path)
    assert loaded.train.labels.shape == (20,) and loaded.train.labels.dtype == np.int64


def test_a_corrupt_file_is_refused(tmp_path: Path) -> None:
    path = _write_raw(tmp_path / "d.npz")
    path.write_bytes(path.read_bytes()[:300])  # truncated mid-archive
    with pytest.raises(DataIntegrityError, match="not a readable .npz"):
        load_local_dataset(path)


def test_a_file_without_meta_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataIntegrityError, match="lacks the keys meta"):
        load_local_dataset(_write_raw(tmp_path / "d.npz", meta=None))


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ("not json", "meta is not JSON"),
        (json.dumps({"flag": "pneumoniamnist"}), "meta is not JSON with flag and size"),
        (json.dumps({"flag": "chestmnist", "size": 28}), "multi-label"),
        (json.dumps({"flag": "mnist", "size": 28}), "unknown MedMNIST subset"),
    ],
)
def test_bad_meta_is_refused(tmp_path: Path, meta: str, message: str) -> None:
    with pytest.raises(DataIntegrityError, match=message):
        load_local_dataset(_write_raw(tmp_path / "d.npz", meta=np.array(meta)))


def test_images_and_labels_of_different_length_are_refused(tmp_path: Path) -> None:
    path = _write_raw(tmp_path / "d.npz", train_labels=np.zeros(19, np.int64))
    with pytest.raises(DataIntegrityError, match="train has 20 images but 19 labels"):
        load_local_dataset(path)


def test_labels_outside_the_subset_classes_are_refused(tmp_path: Path) -> None:
    path = _write_raw(tmp_path / "d.npz", val_labels=np.array([0, 1, 2, -1, 1]))
    with pytest.raises(DataIntegrityError, match=r"val labels include \[-1, 2\], outside"):
        load_local_dataset(path)


def test_images_of_the_wrong_shape_for_the_subset_are_refused(tmp_path: Path) -> None:
    path = _write_raw(tmp_path / "d.npz", train_images=np.zeros((20, 64, 64), np.uint8))
    with pytest.raises(DataIntegrityError, match=r"train images .*\(20, 64, 64\).*\(N, 28, 28\)"):
        load_local_dataset(path)


def test_float_images_are_refused(tmp_path: Path) -> None:
    path = _write_raw(tmp_path / "d.npz", val_images=np.zeros((5, 28, 28), np.float32))
    with pytest.raises(DataIntegrityError, match="val images are float32"):
        load_local_dataset(path)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = _write_raw(
        tmp_path / "d.npz",
        train_labels=np.full(20, 5, np.int64),
        val_images=np.zeros((5, 28, 28, 3), np.uint8),
    )
    with pytest.raises(DataIntegrityError) as err:
        load_local_dataset(path)
    assert "train labels include [5]" in str(err.value)
    assert "val images are uint8 of shape (5, 28, 28, 3)" in str(err.value)
    assert str(path) in str(err.value)


def test_a_file_without_training_images_is_refused(tmp_path: Path) -> None:
    path = _write_raw(
        tmp_path / "d.npz",
        train_images=np.zeros((0, 28, 28), np.uint8),
        train_labels=np.zeros(0, np.int64),
    )
    with pytest.raises(DataIntegrityError, match="no training images"):
        load_local_dataset(path)
