"""Patient-level train/validation/test split (standard 5.3.3.2d).

All images of a patient land in one subset, so no patient is seen in training and then
again in testing. Patients are stratified by label (a patient's label is the most common
label among their images, ties to the smallest; unlabelled patients form their own
stratum) and each stratum is shared out by the largest-remainder rule. The result depends
only on the set of (patient, label) pairs and the seed, not on the input order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from medfed.data.prepare.item import ImageItem
from medfed.errors import ConfigError, DataError

__all__ = ["PatientSplit", "Subset", "patient_level_split", "split_items"]


class Subset(StrEnum):
    TRAIN = "train"
    VAL = "val"
    TEST = "test"


@dataclass(frozen=True)
class PatientSplit:
    """Positions (into the input sequence) and patients of each subset."""

    indices: dict[Subset, tuple[int, ...]]
    patients: dict[Subset, frozenset[str]]
    seed: int
    fractions: tuple[float, float, float]

    def subset_of(self, patient: str) -> Subset:
        for subset, members in self.patients.items():
            if patient in members:
                return subset
        raise DataError(f"patient {patient!r} is not in this split")

    def counts(self) -> dict[str, dict[str, int]]:
        """Images and patients per subset."""
        return {
            s.value: {"images": len(self.indices[s]), "patients": len(self.patients[s])}
            for s in Subset
        }


def _allocate(n: int, fractions: tuple[float, float, float]) -> list[int]:
    """Sizes summing to n, proportional to ``fractions`` (largest remainder, ties to
    the earlier subset)."""
    exact = [f * n for f in fractions]
    sizes = [int(np.floor(e)) for e in exact]
    order = sorted(range(3), key=lambda k: (-(exact[k] - sizes[k]), k))
    for k in order[: n - sum(sizes)]:
        sizes[k] += 1
    return sizes


def _patient_label(labels: list[int | None]) -> int | None:
    known = [lab for lab in labels if lab is not None]
    if not known:
        return None
    counts = Counter(known)
    top = max(counts.values())
    return min(lab for lab, c in counts.items() if c == top)


def patient_level_split(
    patients: Sequence[str],
    labels: Sequence[int | None],
    *,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int,
) -> PatientSplit:
    """Split images by patient; ``patients[i]`` and ``labels[i]`` describe image ``i``.
    ``fractions`` (train, val, test) are shares of patients per label stratum."""
    if len(patients) != len(labels):
        raise DataError(f"{len(patients)} patients for {len(labels)} labels")
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-9:
        raise ConfigError(
            f"fractions (train, val, test) must be >= 0 and sum to 1, got {fractions}"
        )
    by_patient: dict[str, list[int | None]] = {}
    for patient, label in zip(patients, labels, strict=True):
        by_patient.setdefault(patient, []).append(label)
    strata: dict[int | None, list[str]] = {}
    for patient in sorted(by_patient):
        strata.setdefault(_patient_label(by_patient[patient]), []).append(patient)
    rng = np.random.default_rng(seed)
    assigned: dict[str, Subset] = {}
    # None sorts last so the stratum order, hence the random stream, is fixed
    for key in sorted(strata, key=lambda k: (k is None, k if k is not None else 0)):
        members = [strata[key][i] for i in rng.permutation(len(strata[key]))]
        start = 0
        for subset, size in zip(Subset, _allocate(len(members), fractions), strict=True):
            for patient in members[start : start + size]:
                assigned[patient] = subset
            start += size
    indices = {s: tuple(i for i, p in enumerate(patients) if assigned[p] is s) for s in Subset}
    groups = {s: frozenset(p for p, a in assigned.items() if a is s) for s in Subset}
    return PatientSplit(indices=indices, patients=groups, seed=seed, fractions=tuple(fractions))  # type: ignore[arg-type]


def split_items(
    items: Sequence[ImageItem],
    *,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int,
) -> dict[Subset, list[ImageItem]]:
    """The items of each subset, in input order (see ``patient_level_split``)."""
    split = patient_level_split(
        [i.patient for i in items], [i.label for i in items], fractions=fractions, seed=seed
    )
    return {s: [items[k] for k in split.indices[s]] for s in Subset}
