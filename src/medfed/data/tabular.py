"""Tabular data for logistic-regression studies: a patient table, its horizontal and
vertical splits, a leak-free standardiser, and per-image statistics as tabular features.

``image_statistics`` turns 2-D grey-level images into the same fixed feature vector per
image (standard 5.3.2c-e): first-order intensity statistics and grey-level co-occurrence
texture features.

The demonstration table is the Wisconsin diagnostic breast-cancer set shipped with
scikit-learn (569 patients, 30 features computed from digitised images of fine-needle
aspirates of breast masses). Labels are recoded so that 1 means malignant (the positive
finding), 0 benign.

Standardisation is fitted on training rows only (``fit_standardizer``) and then applied to
both training and test rows. In a vertical split every feature column lives at exactly one
party, so each party fitting its own columns on its own training rows is the same as a
central fit, and nothing about another party's columns or the test rows is needed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from medfed.errors import DataError

__all__ = [
    "PartySplit",
    "Standardizer",
    "Table",
    "fit_standardizer",
    "image_statistics",
    "is_test_id",
    "load_breast_cancer_table",
    "select_ids",
    "split_columns",
    "split_rows",
]


@dataclass(frozen=True)
class Table:
    """Rows of patients: ``ids`` (N,) study-local IDs, ``features`` float64 (N, k),
    ``labels`` int64 (N,) or None at a party that holds no labels, ``feature_names`` (k,)."""

    ids: tuple[str, ...]
    features: np.ndarray
    labels: np.ndarray | None
    feature_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.features.ndim != 2 or self.features.shape != (
            len(self.ids),
            len(self.feature_names),
        ):
            raise DataError(
                f"table shape {self.features.shape} does not fit {len(self.ids)} IDs "
                f"and {len(self.feature_names)} feature names"
            )
        if self.labels is not None and self.labels.shape != (len(self.ids),):
            raise DataError(f"labels shape {self.labels.shape} does not fit {len(self.ids)} IDs")
        if len(set(self.ids)) != len(self.ids):
            raise DataError("duplicate patient IDs in a table")

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, index: np.ndarray) -> Table:
        """The rows at integer positions ``index``, in that order."""
        index = np.asarray(index, dtype=np.int64)
        return Table(
            ids=tuple(self.ids[i] for i in index),
            features=self.features[index],
            labels=None if self.labels is None else self.labels[index],
            feature_names=self.feature_names,
        )

    def columns(self, index: Sequence[int], *, keep_labels: bool) -> Table:
        """The feature columns at ``index``; labels kept only if ``keep_labels``."""
        cols = list(index)
        return Table(
            ids=self.ids,
            features=self.features[:, cols],
            labels=self.labels if keep_labels else None,
            feature_names=tuple(self.feature_names[c] for c in cols),
        )


@dataclass(frozen=True)
class PartySplit:
    """One party's share of a study: its training and test rows."""

    party: str
    train: Table
    test: Table


@dataclass(frozen=True)
class Standardizer:
    """Per-column ``(x - mean) / scale``; ``mean`` and ``scale`` float64 (k,)."""

    mean: np.ndarray
    scale: np.ndarray

    def apply(self, features: np.ndarray) -> np.ndarray:
        """float64 (N, k): ``features`` (N, k) standardised with the fitted statistics."""
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != self.mean.shape[0]:
            raise DataError(
                f"standardiser fitted on {self.mean.shape[0]} columns, got {features.shape}"
            )
        return (features - self.mean) / self.scale


def fit_standardizer(train_features: np.ndarray) -> Standardizer:
    """Column means and standard deviations of training rows (N, k); constant columns get
    scale 1 so they map to 0 instead of dividing by zero."""
    x = np.asarray(train_features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise DataError(f"need a non-empty (N, k) array to fit a standardiser, got {x.shape}")
    scale = x.std(axis=0)
    return Standardizer(mean=x.mean(axis=0), scale=np.where(scale > 0, scale, 1.0))


def load_breast_cancer_table(*, seed: int) -> Table:
    """The 569-patient breast-cancer table, rows in a seeded random order, IDs
    ``"P0001"``…``"P0569"`` assigned in that order (so an ID says nothing about the source
    row). Labels: 1 malignant, 0 benign. Features are raw (not standardised)."""
    from sklearn.datasets import load_breast_cancer  # scikit-learn is heavy; load on use

    raw = load_breast_cancer()
    order = np.random.default_rng(seed).permutation(raw.data.shape[0])
    return Table(
        ids=tuple(f"P{i + 1:04d}" for i in range(order.size)),
        features=np.asarray(raw.data[order], dtype=np.float64),
        labels=(raw.target[order] == 0).astype(np.int64),
        feature_names=tuple(str(n) for n in raw.feature_names),
    )


def select_ids(table: Table, ids: Sequence[str]) -> Table:
    """The rows of ``table`` for ``ids``, in the order given (e.g. a PSI intersection)."""
    position = {pid: i for i, pid in enumerate(table.ids)}
    missing = [pid for pid in ids if pid not in position]
    if missing:
        raise DataError(f"{len(missing)} requested patient IDs are not in the table")
    return table.rows(np.array([position[pid] for pid in ids], dtype=np.int64))


def is_test_id(patient_id: str, *, seed: int, test_fraction: float) -> bool:
    """Whether a patient falls in the test set: a seeded hash of the ID mapped to [0, 1).

    Every party computes this from the ID and the study seed alone, so all parties agree on
    the split of the patients they share without exchanging anything.
    """
    digest = hashlib.sha256(f"medfed-split/v1\x00{seed}\x00{patient_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < test_fraction


def _check_parties(parties: Sequence[str], test_fraction: float) -> None:
    if not parties or len(set(parties)) != len(parties):
        raise DataError(f"need distinct party names, got {list(parties)}")
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test_fraction must be in (0, 1), got {test_fraction}")


def split_rows(
    table: Table, parties: Sequence[str], *, seed: int, test_fraction: float = 0.2
) -> dict[str, PartySplit]:
    """Horizontal split: each party gets a disjoint set of patients (all columns), class
    proportions kept (stratified), then its own stratified train/test split."""
    _check_parties(parties, test_fraction)
    if table.labels is None:
        raise DataError("a horizontal split needs labels to stratify on")
    rng = np.random.default_rng(seed)
    owned: list[list[int]] = [[] for _ in parties]
    for cls in np.unique(table.labels):
        members = rng.permutation(np.flatnonzero(table.labels == cls))
        offset = int(rng.integers(len(parties)))  # so no party always gets the extra rows
        for k, row in enumerate(members):
            owned[(k + offset) % len(parties)].append(int(row))
    out: dict[str, PartySplit] = {}
    for party, rows in zip(parties, owned, strict=True):
        part = table.rows(np.array(sorted(rows), dtype=np.int64))
        assert part.labels is not None
        test: list[int] = []
        for cls in np.unique(part.labels):
            members = rng.permutation(np.flatnonzero(part.labels == cls))
            test.extend(members[: int(round(test_fraction * members.size))].tolist())
        is_test = np.zeros(len(part), dtype=bool)
        is_test[test] = True
        if is_test.all() or not is_test.any():
            raise DataError(
                f"party {party!r} has too few patients ({len(part)}) for a train/test split"
            )
        out[party] = PartySplit(
            party, part.rows(np.flatnonzero(~is_test)), part.rows(np.flatnonzero(is_test))
        )
    return out


def split_columns(
    table: Table,
    parties: Sequence[str],
    *,
    label_party: str,
    seed: int,
    overlap: float = 1.0,
    test_fraction: float = 0.2,
) -> dict[str, PartySplit]:
    """Vertical split: disjoint, seeded subsets of feature columns per party (near-equal
    sizes, original column order kept), labels only at ``label_party``.

    With ``overlap == 1`` every party holds every patient, rows in the same order. With
    ``overlap < 1`` each party independently keeps a random ``overlap`` fraction of the
    patients, so the parties must find their common patients (PSI) and align their rows
    (``select_ids``) before training. The train/test split is ``is_test_id`` on each ID,
    the same at every party.
    """
    _check_parties(parties, test_fraction)
    if label_party not in parties:
        raise DataError(f"label party {label_party!r} is not one of {list(parties)}")
    if table.labels is None:
        raise DataError("a vertical split needs labels for the label party")
    if not 0.0 < overlap <= 1.0:
        raise DataError(f"overlap must be in (0, 1], got {overlap}")
    n_cols = table.features.shape[1]
    if n_cols < len(parties):
        raise DataError(f"{n_cols} feature columns cannot be split across {len(parties)} parties")
    rng = np.random.default_rng(seed)
    column_sets = np.array_split(rng.permutation(n_cols), len(parties))
    out: dict[str, PartySplit] = {}
    for party, cols in zip(parties, column_sets, strict=True):
        part = table.columns(sorted(int(c) for c in cols), keep_labels=party == label_party)
        if overlap < 1.0:
            # Kept rows stay in table order: positions still differ between parties.
            keep = rng.choice(
                len(part), size=max(1, int(round(overlap * len(part)))), replace=False
            )
            part = part.rows(np.sort(keep))
        is_test = np.array(
            [is_test_id(p, seed=seed, test_fraction=test_fraction) for p in part.ids]
        )
        out[party] = PartySplit(
            party, part.rows(np.flatnonzero(~is_test)), part.rows(np.flatnonzero(is_test))
        )
    return out


_PERCENTILES = (10, 25, 50, 75, 90)
_GLCM_LEVELS = 32  # 256 grey levels binned to 32: a stable matrix even for 28x28 images
_GLCM_OFFSETS = ((0, 1), (1, 1), (1, 0), (1, -1))  # distance 1 at 0, 45, 90, 135 degrees
IMAGE_STATISTICS_NAMES = (
    ("mean", "std", "skewness", "kurtosis")
    + tuple(f"p{p}" for p in _PERCENTILES)
    + ("entropy", "glcm_contrast", "glcm_homogeneity", "glcm_energy", "glcm_correlation")
)


def image_statistics(images: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per-image features float64 (N, 14) and their names for uint8 images (N, H, W).

    First order on raw intensities 0..255: mean, standard deviation, skewness, excess
    kurtosis, 10/25/50/75/90th percentiles, Shannon entropy (bits, 256-bin histogram).
    Texture: symmetric, normalised grey-level co-occurrence matrix over 32 levels at
    distance 1, averaged over 0/45/90/135 degrees: contrast, homogeneity, energy (angular
    second moment) and correlation (1 for a constant image, where it is undefined).
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 3:
        raise DataError("image_statistics needs uint8 images of shape (N, H, W)")
    n, h, w = images.shape
    if n == 0 or h < 2 or w < 2:
        raise DataError(
            f"image_statistics needs at least one image of 2x2 pixels, got {images.shape}"
        )
    x = images.reshape(n, -1).astype(np.float64)
    mean = x.mean(axis=1)
    centred = x - mean[:, None]
    std = np.sqrt((centred**2).mean(axis=1))
    safe = np.where(std > 0, std, 1.0)
    skew = np.where(std > 0, (centred**3).mean(axis=1) / safe**3, 0.0)
    kurt = np.where(std > 0, (centred**4).mean(axis=1) / safe**4 - 3.0, 0.0)
    pct = np.percentile(x, _PERCENTILES, axis=1).T
    hist = _bincount_rows(images.reshape(n, -1).astype(np.int64), 256) / (h * w)
    entropy = 0.0 - np.sum(hist * np.log2(np.where(hist > 0, hist, 1.0)), axis=1)  # no -0.0
    texture = _glcm_features((images.astype(np.int64) * _GLCM_LEVELS) // 256)
    features = np.column_stack([mean, std, skew, kurt, pct, entropy, texture])
    return features, IMAGE_STATISTICS_NAMES


def _bincount_rows(values: np.ndarray, size: int) -> np.ndarray:
    """Histogram of each row of non-negative ints (N, M) into ``size`` bins: (N, size)."""
    n = values.shape[0]
    flat = (values + size * np.arange(n)[:, None]).ravel()
    return np.bincount(flat, minlength=n * size).reshape(n, size).astype(np.float64)


def _glcm_features(q: np.ndarray) -> np.ndarray:
    """(N, 4) contrast, homogeneity, energy, correlation of quantised images q (N, H, W)."""
    n, h, w = q.shape
    levels = _GLCM_LEVELS
    glcm = np.zeros((n, levels, levels))
    for dy, dx in _GLCM_OFFSETS:
        c0, c1 = max(0, -dx), w - max(0, dx)  # columns c with c + dx inside the image
        a = q[:, : h - dy, c0:c1]
        b = q[:, dy:, c0 + dx : c1 + dx]
        pairs = _bincount_rows((a * levels + b).reshape(n, -1), levels * levels)
        pairs = pairs.reshape(n, levels, levels)
        pairs = pairs + pairs.transpose(0, 2, 1)  # symmetric: count both directions
        glcm += pairs / pairs.sum(axis=(1, 2), keepdims=True)
    glcm /= len(_GLCM_OFFSETS)
    i, j = np.meshgrid(np.arange(levels), np.arange(levels), indexing="ij")
    contrast = np.sum(glcm * (i - j) ** 2, axis=(1, 2))
    homogeneity = np.sum(glcm / (1.0 + (i - j) ** 2), axis=(1, 2))
    energy = np.sum(glcm**2, axis=(1, 2))
    mu = np.sum(glcm * i, axis=(1, 2))  # symmetric matrix: the same for rows and columns
    var = np.sum(glcm * (i - mu[:, None, None]) ** 2, axis=(1, 2))
    cov = np.sum(glcm * (i - mu[:, None, None]) * (j - mu[:, None, None]), axis=(1, 2))
    correlation = np.where(var > 1e-12, cov / np.where(var > 1e-12, var, 1.0), 1.0)
    return np.column_stack([contrast, homogeneity, energy, correlation])


def image_statistics_params() -> dict[str, object]:
    """What fixes ``image_statistics``' output: hashed into a table's extractor signature."""
    return {"percentiles": list(_PERCENTILES), "glcm_levels": _GLCM_LEVELS, "glcm_distance": 1,
            "glcm_angles": [0, 45, 90, 135], "features": list(IMAGE_STATISTICS_NAMES)}
