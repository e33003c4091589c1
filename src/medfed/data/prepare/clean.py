"""Cleaning (standard 5.3.3.2a-b): drop unusable images and say why, item by item.

Checks run in this order and an item is dropped for the first reason that applies:
corrupt (no pixels, non-finite values, not 2-D or 3-D), out of specification (modality, dimensions,
size, bit depth, empty or constant), exact duplicate (same content hash as a kept item),
near duplicate (perceptual hash within ``near_duplicate_distance`` bits of a kept item).
The first occurrence is kept, so the result depends on input order only in which copy of
a duplicate survives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from medfed.data.prepare.item import ImageItem
from medfed.data.prepare.phash import phash
from medfed.errors import ConfigError

__all__ = ["CleaningReport", "CleaningSpec", "DropReason", "NearDuplicateScope", "clean"]


class DropReason(StrEnum):
    """Why an item was removed."""

    CORRUPT = "corrupt"
    WRONG_MODALITY = "wrong_modality"
    WRONG_DIMENSIONS = "wrong_dimensions"
    SIZE_OUT_OF_RANGE = "size_out_of_range"
    BIT_DEPTH = "bit_depth"
    EMPTY_OR_CONSTANT = "empty_or_constant"
    EXACT_DUPLICATE = "exact_duplicate"
    NEAR_DUPLICATE = "near_duplicate"


class NearDuplicateScope(StrEnum):
    """Which kept items a new item is compared with for near duplicates."""

    ANY_PATIENT = "any_patient"  # also catches one image filed under two pseudonyms
    SAME_PATIENT = "same_patient"  # for sites where different patients look alike


@dataclass(frozen=True)
class CleaningSpec:
    """What a usable image is. Sizes in pixels along the in-plane axes (last two);
    ``depth_range`` bounds the number of slices of a volume. ``bit_depths``: accepted
    declared (or integer dtype) bit depths; None accepts any. ``allow_float``: accept float
    pixel arrays that declare no bit depth. ``near_duplicate_distance``: largest Hamming
    distance (of 64 bits) still counted as a near duplicate; -1 turns the check off.
    ``dims``: accepted numbers of array axes (2 for images, 3 for volumes); None accepts both."""

    modalities: frozenset[str] | None = None
    dims: frozenset[int] | None = None
    min_side: int = 16
    max_side: int = 4096
    depth_range: tuple[int, int] = (1, 2048)
    bit_depths: frozenset[int] | None = frozenset({8, 10, 12, 14, 16})
    allow_float: bool = True
    near_duplicate_distance: int = 4
    near_duplicate_scope: NearDuplicateScope = NearDuplicateScope.ANY_PATIENT

    def __post_init__(self) -> None:
        if not 1 <= self.min_side <= self.max_side:
            raise ConfigError(
                f"need 1 <= min_side <= max_side, got {self.min_side}, {self.max_side}"
            )
        if not 1 <= self.depth_range[0] <= self.depth_range[1]:
            raise ConfigError(
                f"depth_range must be (low, high) with 1 <= low <= high, got {self.depth_range}"
            )
        if not -1 <= self.near_duplicate_distance <= 64:
            raise ConfigError(
                f"near_duplicate_distance must be in [-1, 64], got {self.near_duplicate_distance}"
            )


@dataclass(frozen=True)
class CleaningReport:
    """The outcome of ``clean``: ``dropped`` maps each reason to the dropped item ids (in
    input order); ``duplicate_of`` maps a dropped duplicate to the kept item it repeats."""

    n_input: int
    kept: tuple[str, ...]
    dropped: dict[DropReason, tuple[str, ...]]
    duplicate_of: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Dropped count per reason (every reason present, zero included)."""
        return {reason.value: len(self.dropped.get(reason, ())) for reason in DropReason}

    @property
    def n_dropped(self) -> int:
        return sum(len(ids) for ids in self.dropped.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with item ids (stays at the hospital: ids are local)."""
        return {
            "n_input": self.n_input,
            "n_kept": len(self.kept),
            "counts": self.counts(),
            "dropped": {r.value: list(ids) for r, ids in self.dropped.items()},
            "duplicate_of": dict(self.duplicate_of),
        }

    def summary(self) -> str:
        """One line: input, kept, and the non-zero reasons."""
        reasons = ", ".join(f"{k} {v}" for k, v in self.counts().items() if v)
        return f"{self.n_input} in, {len(self.kept)} kept, {self.n_dropped} dropped ({reasons or 'none'})"


def _bit_depth(item: ImageItem, pixels: np.ndarray) -> int | None:
    if item.bits_stored is not None:
        return item.bits_stored
    if np.issubdtype(pixels.dtype, np.integer) or pixels.dtype == np.bool_:
        return pixels.dtype.itemsize * 8
    return None


def _spec_problem(item: ImageItem, pixels: np.ndarray, spec: CleaningSpec) -> DropReason | None:
    """The first out-of-specification reason, or None."""
    if spec.modalities is not None and item.modality not in spec.modalities:
        return DropReason.WRONG_MODALITY
    if spec.dims is not None and pixels.ndim not in spec.dims:
        return DropReason.WRONG_DIMENSIONS
    sides = pixels.shape[-2:]
    if min(sides) < spec.min_side or max(sides) > spec.max_side:
        return DropReason.SIZE_OUT_OF_RANGE
    if pixels.ndim == 3 and not spec.depth_range[0] <= pixels.shape[0] <= spec.depth_range[1]:
        return DropReason.SIZE_OUT_OF_RANGE
    depth = _bit_depth(item, pixels)
    if depth is None:
        if not spec.allow_float:
            return DropReason.BIT_DEPTH
    elif spec.bit_depths is not None and depth not in spec.bit_depths:
        return DropReason.BIT_DEPTH
    if pixels.size == 0 or pixels.min() == pixels.max():
        return DropReason.EMPTY_OR_CONSTANT
    return None


def _is_corrupt(pixels: np.ndarray | None) -> bool:
    if not isinstance(pixels, np.ndarray) or pixels.ndim not in (2, 3):
        return True
    if not (np.issubdtype(pixels.dtype, np.number) or pixels.dtype == np.bool_):
        return True
    return bool(np.issubdtype(pixels.dtype, np.floating) and not np.isfinite(pixels).all())


def clean(items: Sequence[ImageItem], spec: CleaningSpec) -> tuple[list[ImageItem], CleaningReport]:
    """The usable items (input order) and a report naming every dropped item and why."""
    dropped: dict[DropReason, list[str]] = {reason: [] for reason in DropReason}
    duplicate_of: dict[str, str] = {}
    kept: list[ImageItem] = []
    by_hash: dict[str, str] = {}
    hashes: list[int] = []  # perceptual hashes of kept items, aligned with ``kept``
    check_near = spec.near_duplicate_distance >= 0
    for item in items:
        pixels = item.pixels
        if pixels is None or _is_corrupt(pixels):
            dropped[DropReason.CORRUPT].append(item.item_id)
            continue
        problem = _spec_problem(item, pixels, spec)
        if problem is not None:
            dropped[problem].append(item.item_id)
            continue
        if item.content_hash in by_hash:
            dropped[DropReason.EXACT_DUPLICATE].append(item.item_id)
            duplicate_of[item.item_id] = by_hash[item.content_hash]
            continue
        code = phash(pixels) if check_near else 0
        if check_near and hashes:
            match = _nearest_within(code, hashes, kept, item, spec)
            if match is not None:
                dropped[DropReason.NEAR_DUPLICATE].append(item.item_id)
                duplicate_of[item.item_id] = match
                continue
        kept.append(item)
        hashes.append(code)
        by_hash[item.content_hash] = item.item_id
    report = CleaningReport(
        n_input=len(items),
        kept=tuple(i.item_id for i in kept),
        dropped={reason: tuple(ids) for reason, ids in dropped.items() if ids},
        duplicate_of=duplicate_of,
    )
    return kept, report


def _nearest_within(
    code: int, hashes: list[int], kept: list[ImageItem], item: ImageItem, spec: CleaningSpec
) -> str | None:
    """The id of the closest kept item within the distance (and scope), or None."""
    distances = np.bitwise_count(np.array(hashes, dtype=np.uint64) ^ np.uint64(code))
    if spec.near_duplicate_scope is NearDuplicateScope.SAME_PATIENT:
        other = np.array([k.patient != item.patient for k in kept])
        distances = np.where(other, 65, distances)
    best = int(np.argmin(distances))
    return kept[best].item_id if distances[best] <= spec.near_duplicate_distance else None
