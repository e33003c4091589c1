"""Patient-level splits: no patient in two subsets, stratified, reproducible (5.3.3.2d)."""

from __future__ import annotations

import numpy as np
import pytest

from medfed.data.prepare import ImageItem, Subset, patient_level_split, split_items
from medfed.errors import ConfigError, DataError


def _study(n_patients: int = 60, seed: int = 0) -> tuple[list[str], list[int | None]]:
    """1 to 4 images per patient; a third of the patients are positive."""
    rng = np.random.default_rng(seed)
    patients: list[str] = []
    labels: list[int | None] = []
    for p in range(n_patients):
        for _ in range(int(rng.integers(1, 5))):
            patients.append(f"P{p:03d}")
            labels.append(int(p % 3 == 0))
    return patients, labels


@pytest.mark.clause("5.3.3.2d")
def test_no_patient_is_in_two_subsets_and_every_image_is_somewhere() -> None:
    patients, labels = _study()
    split = patient_level_split(patients, labels, fractions=(0.6, 0.2, 0.2), seed=3)
    train, val, test = (split.patients[s] for s in Subset)
    assert not (train & val or train & test or val & test)
    assert sorted(i for s in Subset for i in split.indices[s]) == list(range(len(patients)))
    for subset in Subset:
        assert {patients[i] for i in split.indices[subset]} == split.patients[subset]
    assert [len(split.patients[s]) for s in Subset] == [36, 12, 12]
    positives = {s: sum(int(p[1:]) % 3 == 0 for p in split.patients[s]) for s in Subset}
    assert positives == {Subset.TRAIN: 12, Subset.VAL: 4, Subset.TEST: 4}  # stratified


@pytest.mark.clause("5.3.3.2d")
def test_split_is_reproducible_by_seed_and_independent_of_input_order() -> None:
    patients, labels = _study()
    first = patient_level_split(patients, labels, seed=7)
    assert first.patients == patient_level_split(patients, labels, seed=7).patients
    assert first.patients != patient_level_split(patients, labels, seed=8).patients
    order = np.random.default_rng(1).permutation(len(patients))
    shuffled = patient_level_split([patients[i] for i in order], [labels[i] for i in order], seed=7)
    assert shuffled.patients == first.patients
    assert first.subset_of("P000") in set(Subset)


@pytest.mark.clause("5.3.3.2d")
def test_split_items_keeps_patients_together() -> None:
    image = np.zeros((4, 4), np.uint8)
    items = [
        ImageItem(
            f"i{k}", image, (1.0, 1.0), "CT", f"P{k // 3}", k % 2 if k < 20 else None, f"h{k}"
        )
        for k in range(30)
    ]
    subsets = split_items(items, fractions=(0.5, 0.0, 0.5), seed=0)
    assert subsets[Subset.VAL] == []
    owners = {s: {i.patient for i in subsets[s]} for s in Subset}
    assert not owners[Subset.TRAIN] & owners[Subset.TEST]
    assert sum(len(v) for v in subsets.values()) == 30


def test_bad_fractions_and_lengths_are_refused() -> None:
    with pytest.raises(ConfigError):
        patient_level_split(["a"], [0], fractions=(0.5, 0.5, 0.5), seed=0)
    with pytest.raises(DataError):
        patient_level_split(["a", "b"], [0], seed=0)
