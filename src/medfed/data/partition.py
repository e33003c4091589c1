"""Splitting one labelled pool across hospitals, reproducibly by seed.

Every function returns index arrays into ``labels`` (``int64``, sorted ascending) that
together cover each index exactly once. The same ``seed`` always gives the same split.
"""

from __future__ import annotations

import numpy as np

from medfed.core.config import Partition
from medfed.errors import DataError

_MAX_TRIES = 1000


def _check(labels: np.ndarray, n_parts: int, min_size: int = 0) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise DataError(f"labels must have shape (N,), not {labels.shape}")
    if not 1 <= n_parts <= len(labels):
        raise DataError(f"cannot split {len(labels)} samples into {n_parts} parts")
    if min_size < 0 or n_parts * min_size > len(labels):
        raise DataError(
            f"cannot give each of {n_parts} parts at least {min_size} of {len(labels)} samples"
        )
    return labels


def _sorted(parts: list[np.ndarray]) -> list[np.ndarray]:
    return [np.sort(p).astype(np.int64) for p in parts]


def _cuts(proportions: np.ndarray, n: int) -> np.ndarray:
    """Split points of ``n`` items for ``proportions`` summing to 1."""
    return (np.cumsum(proportions)[:-1] * n).astype(np.int64)


def partition_iid(labels: np.ndarray, n_parts: int, *, seed: int) -> list[np.ndarray]:
    """Shuffle and deal out near-equal parts (sizes differ by at most one)."""
    labels = _check(labels, n_parts)
    perm = np.random.default_rng(seed).permutation(len(labels))
    return _sorted(np.array_split(perm, n_parts))


def partition_dirichlet(
    labels: np.ndarray, n_parts: int, *, alpha: float, seed: int, min_size: int = 10
) -> list[np.ndarray]:
    """Label skew: each class is dealt out in proportions drawn from Dirichlet(``alpha``).

    Small ``alpha`` (0.1) gives each hospital few classes; large ``alpha`` (100) is
    nearly IID. Draws repeat, from the same seeded stream, until every part holds at
    least ``min_size`` samples; :class:`DataError` after a bounded number of tries.
    """
    labels = _check(labels, n_parts, min_size)
    if alpha <= 0:
        raise DataError(f"alpha must be > 0, not {alpha}")
    rng = np.random.default_rng(seed)
    n = len(labels)
    by_class = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    for _ in range(_MAX_TRIES):
        parts: list[list[np.ndarray]] = [[] for _ in range(n_parts)]
        sizes = np.zeros(n_parts, dtype=np.int64)
        for idx in by_class:
            idx = rng.permutation(idx)
            p = rng.dirichlet(np.full(n_parts, alpha))
            # Parts already holding their fair share get no more (Li et al., NIID-Bench):
            # it keeps sizes from running away, so min_size is met in far fewer draws.
            open_parts = sizes < n / n_parts
            p = np.where(open_parts, p, 0.0)
            # Tiny alpha can put all mass on closed parts; then share among the open ones.
            p = p / p.sum() if p.sum() > 0 else open_parts / open_parts.sum()
            for k, chunk in enumerate(np.split(idx, _cuts(p, len(idx)))):
                parts[k].append(chunk)
                sizes[k] += len(chunk)
        if sizes.min() >= min_size:
            return _sorted([np.concatenate(chunks) for chunks in parts])
    raise DataError(
        f"no Dirichlet(alpha={alpha}) split of {n} samples into {n_parts} parts gave every "
        f"part {min_size} samples in {_MAX_TRIES} draws; raise alpha, lower min_size or use "
        "fewer parts"
    )


def partition_quantity(
    labels: np.ndarray, n_parts: int, *, alpha: float, seed: int, min_size: int = 10
) -> list[np.ndarray]:
    """Quantity skew: part sizes follow Dirichlet(``alpha``); labels are IID within a part.

    Each part first gets ``min_size`` samples and the rest are dealt by the Dirichlet
    proportions, so the guarantee holds by construction instead of by redrawing.
    """
    labels = _check(labels, n_parts, min_size)
    if alpha <= 0:
        raise DataError(f"alpha must be > 0, not {alpha}")
    rng = np.random.default_rng(seed)
    n = len(labels)
    spare = n - n_parts * min_size
    extra_cuts = _cuts(rng.dirichlet(np.full(n_parts, alpha)), spare)
    extra = np.diff(np.concatenate(([0], extra_cuts, [spare])))
    bounds = np.cumsum(extra + min_size)[:-1]
    return _sorted(np.split(rng.permutation(n), bounds))


def partition(
    labels: np.ndarray,
    n_parts: int,
    *,
    scheme: Partition,
    alpha: float,
    seed: int,
    min_size: int | None = None,
) -> list[np.ndarray]:
    """Split by ``scheme`` (``alpha`` is ignored for IID).

    ``min_size`` defaults to 10 samples per part, or N // n_parts when that is smaller,
    so small pools can still be split.
    """
    labels = np.asarray(labels)
    if not 1 <= n_parts <= len(labels):
        raise DataError(f"cannot split {len(labels)} samples into {n_parts} parts")
    try:
        scheme = Partition(scheme)
    except ValueError:
        choices = ", ".join(s.value for s in Partition)
        raise DataError(f"unknown partition scheme {scheme!r}; choose one of: {choices}") from None
    floor = min(10, len(labels) // n_parts) if min_size is None else min_size
    if scheme is Partition.IID:
        return partition_iid(labels, n_parts, seed=seed)
    if scheme is Partition.DIRICHLET:
        return partition_dirichlet(labels, n_parts, alpha=alpha, seed=seed, min_size=floor)
    return partition_quantity(labels, n_parts, alpha=alpha, seed=seed, min_size=floor)


def train_val_split(
    indices: np.ndarray, labels: np.ndarray, *, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split a party's ``indices`` into (train, val), stratified by class.

    ``labels`` is the full label array the indices point into. Each class sends
    round(``val_fraction`` x its count) samples to validation but always keeps at least
    one for training, so the model sees every class the party holds.
    """
    if not 0 <= val_fraction < 1:
        raise DataError(f"val_fraction must be in [0, 1), not {val_fraction}")
    indices = np.asarray(indices, dtype=np.int64)
    labels = np.asarray(labels)
    if indices.size and (indices.min() < 0 or indices.max() >= len(labels)):
        raise DataError(f"indices fall outside the {len(labels)} labels")
    rng = np.random.default_rng(seed)
    train, val = [], []
    party_labels = labels[indices]
    for c in np.unique(party_labels):
        idx = rng.permutation(indices[party_labels == c])
        n_val = min(round(val_fraction * len(idx)), len(idx) - 1)
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    empty = np.zeros(0, dtype=np.int64)
    return (
        np.sort(np.concatenate(train)) if train else empty,
        np.sort(np.concatenate(val)) if val else empty,
    )


def split_summary(
    labels_by_party: dict[str, np.ndarray], n_classes: int
) -> dict[str, dict[str, int]]:
    """Per party, how many samples of each class (keys "0", "1", ...) and "total".

    Counts only: this is what may be shown outside a hospital, never the records.
    """
    summary: dict[str, dict[str, int]] = {}
    for party, labels in labels_by_party.items():
        labels = np.asarray(labels).reshape(-1)
        if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
            raise DataError(f"{party} has labels outside 0..{n_classes - 1}")
        counts = np.bincount(labels.astype(np.int64), minlength=n_classes)
        summary[party] = {str(c): int(counts[c]) for c in range(n_classes)}
        summary[party]["total"] = int(labels.size)
    return summary
