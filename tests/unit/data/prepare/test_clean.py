"""Cleaning: every dropped image is counted under its reason (5.3.3.2a-b)."""

from __future__ import annotations

import numpy as np
import pytest

from medfed.data.prepare import (
    CleaningSpec,
    DropReason,
    ImageItem,
    NearDuplicateScope,
    clean,
    hamming,
    phash,
)
from medfed.errors import ConfigError


def _scan(seed: int, size: int = 64) -> np.ndarray:
    """A smooth CT-like int16 slice, different for every seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    image = np.zeros((size, size))
    for _ in range(4):
        cy, cx, r = rng.uniform(0.2, 0.8, 3)
        image += rng.uniform(200, 800) * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (0.05 * r))
    return (image - 500).astype(np.int16)


def _item(item_id: str, pixels: np.ndarray | None, **kw: object) -> ImageItem:
    if pixels is None:
        return ImageItem(item_id, None, (1.0, 1.0), "CT", "p", None, "none")
    return ImageItem.from_array(
        item_id,
        pixels,
        patient=str(kw.pop("patient", "p")),
        modality=str(kw.pop("modality", "CT")),
        **kw,
    )  # type: ignore[arg-type]


@pytest.mark.clause("5.3.3.2a", "5.3.3.2b")
def test_every_reason_is_counted_and_named() -> None:
    good = [_item(f"g{i}", _scan(i)) for i in range(3)]
    noisy = _scan(0) + np.random.default_rng(9).integers(-3, 4, (64, 64)).astype(np.int16)
    bad_float = _scan(5).astype(np.float32)
    bad_float[3, 3] = np.nan
    items = [
        *good,
        _item("exact", _scan(1)),
        _item("near", noisy),
        _item("unreadable", None),
        _item("nan", bad_float),
        _item("mr", _scan(6), modality="MR"),
        _item("tiny", _scan(7, size=8)),
        _item("flat", np.full((64, 64), -1000, np.int16)),
        _item("deep", _scan(8).astype(np.int64)),
        _item("line", np.arange(64, dtype=np.int16)),
    ]
    spec = CleaningSpec(modalities=frozenset({"CT"}), near_duplicate_distance=6)
    kept, report = clean(items, spec)
    assert [i.item_id for i in kept] == ["g0", "g1", "g2"]
    assert report.dropped[DropReason.EXACT_DUPLICATE] == ("exact",)
    assert report.dropped[DropReason.NEAR_DUPLICATE] == ("near",)
    assert report.dropped[DropReason.CORRUPT] == ("unreadable", "nan", "line")
    assert report.dropped[DropReason.WRONG_MODALITY] == ("mr",)
    assert report.dropped[DropReason.SIZE_OUT_OF_RANGE] == ("tiny",)
    assert report.dropped[DropReason.EMPTY_OR_CONSTANT] == ("flat",)
    assert report.dropped[DropReason.BIT_DEPTH] == ("deep",)
    assert report.duplicate_of == {"exact": "g1", "near": "g0"}
    assert report.n_input == len(items) == len(kept) + report.n_dropped
    assert report.counts()["corrupt"] == 3 and set(report.counts()) == {r.value for r in DropReason}
    assert "3 kept" in report.summary()


@pytest.mark.clause("5.3.3.2b")
def test_phash_is_close_for_noisy_copies_and_far_for_other_images() -> None:
    base = _scan(0, 128)
    noisy = base + np.random.default_rng(1).integers(-5, 6, base.shape).astype(np.int16)
    assert hamming(phash(base), phash(noisy)) <= 4
    assert min(hamming(phash(base), phash(_scan(s, 128))) for s in range(1, 8)) > 8
    volume = np.stack([_scan(s) for s in range(5)])
    assert phash(volume) == phash(volume[2])


@pytest.mark.clause("5.3.3.2b")
def test_near_duplicate_scope_same_patient_keeps_lookalikes_of_other_patients() -> None:
    items = [_item("a", _scan(0), patient="p1"), _item("b", _scan(0) + 1, patient="p2")]
    kept, _ = clean(items, CleaningSpec(near_duplicate_scope=NearDuplicateScope.SAME_PATIENT))
    assert len(kept) == 2
    kept, report = clean(items, CleaningSpec())
    assert report.dropped == {DropReason.NEAR_DUPLICATE: ("b",)}


def test_near_duplicate_check_can_be_turned_off_and_bad_specs_are_refused() -> None:
    items = [_item("a", _scan(0)), _item("b", _scan(0) + 1)]
    assert len(clean(items, CleaningSpec(near_duplicate_distance=-1))[0]) == 2
    with pytest.raises(ConfigError):
        CleaningSpec(min_side=10, max_side=5)
    with pytest.raises(ConfigError):
        CleaningSpec(near_duplicate_distance=65)
