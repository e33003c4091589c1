"""Splitting a labelled pool across hospitals: coverage, reproducibility, skew, summaries."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medfed.core.config import Partition
from medfed.data import (
    partition,
    partition_dirichlet,
    partition_iid,
    partition_quantity,
    split_summary,
    train_val_split,
)
from medfed.errors import DataError

N_CLASSES = 5


@pytest.fixture
def labels() -> np.ndarray:
    """3,000 labels over 5 unequal classes, like a real imaging task."""
    rng = np.random.default_rng(42)
    return rng.choice(N_CLASSES, size=3000, p=[0.4, 0.25, 0.15, 0.12, 0.08]).astype(np.int64)


def _assert_exact_cover(parts: list[np.ndarray], n: int) -> None:
    for part in parts:
        assert part.dtype == np.int64
        assert np.all(np.diff(part) > 0), "each part is sorted and has no repeats"
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(n))


def _mean_tv(parts: list[np.ndarray], labels: np.ndarray) -> float:
    """Mean total-variation distance of each part's label distribution from the pool's."""
    pool = np.bincount(labels, minlength=N_CLASSES) / len(labels)
    dists = [np.bincount(labels[p], minlength=N_CLASSES) / len(p) for p in parts]
    return float(np.mean([0.5 * np.abs(d - pool).sum() for d in dists]))


Splitter = Callable[[np.ndarray, int, int], list[np.ndarray]]
SCHEMES: list[Splitter] = [
    lambda y, k, seed: partition_iid(y, k, seed=seed),
    lambda y, k, seed: partition_dirichlet(y, k, alpha=0.5, seed=seed),
    lambda y, k, seed: partition_quantity(y, k, alpha=0.5, seed=seed),
]
SCHEME_IDS = ["iid", "dirichlet", "quantity"]


@pytest.mark.clause("5.3.3.2d")
@pytest.mark.parametrize("split", SCHEMES, ids=SCHEME_IDS)
def test_every_index_goes_to_exactly_one_party(split: Splitter, labels: np.ndarray) -> None:
    _assert_exact_cover(split(labels, 7, 0), len(labels))


@pytest.mark.clause("5.3.3.2d")
@pytest.mark.parametrize("split", SCHEMES, ids=SCHEME_IDS)
def test_the_same_seed_gives_the_same_split(split: Splitter, labels: np.ndarray) -> None:
    a, b = split(labels, 5, 123), split(labels, 5, 123)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.clause("5.3.3.2d")
@pytest.mark.parametrize("split", SCHEMES, ids=SCHEME_IDS)
def test_different_seeds_give_different_splits(split: Splitter, labels: np.ndarray) -> None:
    a, b = split(labels, 5, 1), split(labels, 5, 2)
    assert not all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_iid_parts_differ_in_size_by_at_most_one(labels: np.ndarray) -> None:
    sizes = [len(p) for p in partition_iid(labels, 7, seed=0)]
    assert max(sizes) - min(sizes) <= 1


def test_small_alpha_dirichlet_skews_labels_far_more_than_iid(labels: np.ndarray) -> None:
    iid = np.mean([_mean_tv(partition_iid(labels, 8, seed=s), labels) for s in range(5)])
    skewed = np.mean(
        [_mean_tv(partition_dirichlet(labels, 8, alpha=0.1, seed=s), labels) for s in range(5)]
    )
    near_iid = np.mean(
        [_mean_tv(partition_dirichlet(labels, 8, alpha=1000, seed=s), labels) for s in range(5)]
    )
    assert iid < 0.05
    assert skewed > 0.4 and skewed > 8 * iid
    assert near_iid < 0.1


def test_quantity_skew_varies_sizes_but_not_labels(labels: np.ndarray) -> None:
    parts = partition_quantity(labels, 6, alpha=0.3, seed=3)
    sizes = np.array([len(p) for p in parts])
    assert sizes.max() > 3 * sizes.min()
    big = [p for p in parts if len(p) >= 300]
    assert big and _mean_tv(big, labels) < 0.1


@pytest.mark.parametrize("alpha", [0.05, 0.5])
def test_min_size_is_respected(labels: np.ndarray, alpha: float) -> None:
    for seed in range(5):
        for split in (partition_dirichlet, partition_quantity):
            parts = split(labels, 10, alpha=alpha, seed=seed, min_size=50)
            assert min(len(p) for p in parts) >= 50


def test_impossible_min_size_is_refused(labels: np.ndarray) -> None:
    with pytest.raises(DataError, match="at least 400"):
        partition_dirichlet(labels, 10, alpha=0.5, seed=0, min_size=400)
    # Possible on paper, but one class per party at 12 parties almost never fills all.
    one_class = np.zeros(24, dtype=np.int64)
    with pytest.raises(DataError, match="raise alpha"):
        partition_dirichlet(one_class, 12, alpha=0.01, seed=0, min_size=2)


@pytest.mark.parametrize("n_parts", [0, -1, 3001])
def test_party_count_outside_one_to_n_is_refused(labels: np.ndarray, n_parts: int) -> None:
    with pytest.raises(DataError, match="cannot split 3000 samples"):
        partition(labels, n_parts, scheme=Partition.IID, alpha=1.0, seed=0)


def test_partition_dispatches_by_scheme(labels: np.ndarray) -> None:
    for scheme, direct in [
        (Partition.IID, partition_iid(labels, 4, seed=9)),
        (Partition.DIRICHLET, partition_dirichlet(labels, 4, alpha=0.3, seed=9)),
        (Partition.QUANTITY, partition_quantity(labels, 4, alpha=0.3, seed=9)),
    ]:
        got = partition(labels, 4, scheme=scheme, alpha=0.3, seed=9)
        assert all(np.array_equal(x, y) for x, y in zip(got, direct, strict=True))
    with pytest.raises(DataError, match="choose one of: iid, dirichlet, quantity"):
        partition(labels, 4, scheme="shards", alpha=0.3, seed=9)  # type: ignore[arg-type]


def test_partition_of_a_small_pool_lowers_the_default_min_size() -> None:
    labels = np.arange(40) % 2
    parts = partition(labels, 8, scheme=Partition.QUANTITY, alpha=0.5, seed=0)
    _assert_exact_cover(parts, 40)
    assert min(len(p) for p in parts) >= 5


@pytest.mark.clause("5.3.3.2d")
@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.integers(0, 4), min_size=1, max_size=300),
    n_parts=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
    alpha=st.floats(0.05, 100),
    scheme=st.sampled_from(list(Partition)),
)
def test_any_split_covers_every_index_exactly_once(
    labels: list[int], n_parts: int, seed: int, alpha: float, scheme: Partition
) -> None:
    y = np.array(labels, dtype=np.int64)
    n_parts = min(n_parts, len(y))
    # min_size=0 keeps every draw feasible; the guarantee itself is tested above.
    parts = partition(y, n_parts, scheme=scheme, alpha=alpha, seed=seed, min_size=0)
    assert len(parts) == n_parts
    _assert_exact_cover(parts, len(y))


# --- train / validation -----------------------------------------------------------------


@pytest.mark.clause("5.3.3.2d")
def test_train_val_split_is_stratified_and_reproducible(labels: np.ndarray) -> None:
    party = partition_dirichlet(labels, 3, alpha=0.5, seed=0)[0]
    train, val = train_val_split(party, labels, val_fraction=0.2, seed=5)
    assert np.array_equal(np.sort(np.concatenate([train, val])), party)
    assert not set(train) & set(val)
    for c in np.unique(labels[party]):
        n_c = int(np.sum(labels[party] == c))
        expected = min(round(0.2 * n_c), n_c - 1)
        assert int(np.sum(labels[val] == c)) == expected
    again = train_val_split(party, labels, val_fraction=0.2, seed=5)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], val)
    other = train_val_split(party, labels, val_fraction=0.2, seed=6)
    assert not np.array_equal(other[1], val)


@pytest.mark.clause("5.3.3.2d")
def test_a_class_with_one_sample_stays_in_training() -> None:
    labels = np.array([0] * 20 + [1])
    train, val = train_val_split(np.arange(21), labels, val_fraction=0.5, seed=0)
    assert 20 in train and len(val) == 10


def test_zero_val_fraction_keeps_everything_for_training() -> None:
    labels = np.arange(30) % 3
    train, val = train_val_split(np.arange(30), labels, val_fraction=0.0, seed=0)
    assert np.array_equal(train, np.arange(30)) and len(val) == 0 and val.dtype == np.int64


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_val_fraction_outside_zero_to_one_is_refused(fraction: float) -> None:
    with pytest.raises(DataError, match="val_fraction"):
        train_val_split(np.arange(4), np.zeros(4, np.int64), val_fraction=fraction, seed=0)


# --- summary ----------------------------------------------------------------------------


@pytest.mark.clause("5.2d")
def test_split_summary_reports_only_counts_per_class() -> None:
    summary = split_summary(
        {"hospital-a": np.array([0, 1, 1, 2]), "hospital-b": np.array([2, 2])}, n_classes=3
    )
    assert summary == {
        "hospital-a": {"0": 1, "1": 2, "2": 1, "total": 4},
        "hospital-b": {"0": 0, "1": 0, "2": 2, "total": 2},
    }
    assert all(type(v) is int for counts in summary.values() for v in counts.values())


@pytest.mark.clause("5.2d")
def test_split_summary_of_a_real_partition_adds_up(labels: np.ndarray) -> None:
    parts = partition(labels, 4, scheme=Partition.DIRICHLET, alpha=0.5, seed=0)
    summary = split_summary({f"h{i}": labels[p] for i, p in enumerate(parts)}, N_CLASSES)
    assert sum(s["total"] for s in summary.values()) == len(labels)
    for c in range(N_CLASSES):
        assert sum(s[str(c)] for s in summary.values()) == int(np.sum(labels == c))


def test_split_summary_refuses_labels_outside_the_classes() -> None:
    with pytest.raises(DataError, match="h1 has labels outside 0..1"):
        split_summary({"h1": np.array([0, 2])}, n_classes=2)
