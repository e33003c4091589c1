"""A public dataset split across simulated hospitals, as each hospital would hold it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medfed.core.config import StudyConfig
from medfed.data import (
    LocalDataset,
    Split,
    dataset_info,
    load_medmnist,
    partition,
    save_local_dataset,
    split_summary,
    train_val_split,
)
from medfed.data.feature_tables import load_feature_table


@dataclass(frozen=True)
class Scenario:
    """Each hospital's share (train + local validation), and the result party's test split."""

    datasets: dict[str, LocalDataset]
    test: Split
    n_classes: int
    dims: int
    summary: dict[str, dict[str, int]]

    def describe(self, study: StudyConfig) -> dict[str, Any]:
        return {
            "flag": study.data.dataset,
            "size": study.data.size,
            "n_classes": self.n_classes,
            "partition": study.data.partition.value,
            "alpha": study.data.alpha,
            "test_samples": int(len(self.test.labels)),
            "hospitals": self.summary,
        }


def prepare_scenario(study: StudyConfig, *, data_dir: Path | None) -> Scenario:
    """Partition the official training split across the study's hospitals (seeded)."""
    data = study.data
    if dataset_info(data.dataset).dims == 0:
        full = load_feature_table(data.dataset, seed=study.training.seed, data_dir=data_dir)
    else:
        full = load_medmnist(data.dataset, size=data.size, data_dir=data_dir)
    info = full.info
    hospitals = study.hospitals
    seed = study.training.seed
    parts = partition(
        full.train.labels, len(hospitals), scheme=data.partition, alpha=data.alpha, seed=seed
    )
    datasets: dict[str, LocalDataset] = {}
    for k, (name, indices) in enumerate(zip(hospitals, parts, strict=True)):
        train_idx, val_idx = train_val_split(
            indices, full.train.labels, val_fraction=data.val_fraction, seed=seed + k
        )
        datasets[name] = LocalDataset(
            flag=data.dataset,
            size=data.size,
            train=Split(full.train.images[train_idx], full.train.labels[train_idx]),
            val=Split(full.train.images[val_idx], full.train.labels[val_idx]),
            n_classes=info.n_classes,
            dims=info.dims,
        )
    summary = split_summary(
        {
            name: np.concatenate([ds.train.labels, ds.val.labels])
            for name, ds in datasets.items()
        },
        info.n_classes,
    )
    return Scenario(datasets, full.test, info.n_classes, info.dims, summary)


def write_hospital_files(scenario: Scenario, directory: Path) -> dict[str, Path]:
    """One data file per hospital, as a node would find it on its own disk."""
    paths: dict[str, Path] = {}
    for name, ds in scenario.datasets.items():
        path = directory / name / "data.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_local_dataset(path, flag=ds.flag, size=ds.size, train=ds.train, val=ds.val)
        paths[name] = path
    return paths
