"""MedMNIST loading, splitting across hospitals, and each hospital's own data file.

Only numpy here: conversion to tensors belongs to the training layer.
"""

from __future__ import annotations

from medfed.data.local import LocalDataset, load_local_dataset, save_local_dataset
from medfed.data.medmnist import (
    DatasetInfo,
    MedMNIST,
    Split,
    Task,
    dataset_info,
    image_shape,
    images_to_float,
    known_datasets,
    load_medmnist,
    medmnist_filename,
    medmnist_url,
    official_md5,
)
from medfed.data.partition import (
    partition,
    partition_dirichlet,
    partition_iid,
    partition_quantity,
    split_summary,
    train_val_split,
)

__all__ = [
    "DatasetInfo",
    "LocalDataset",
    "MedMNIST",
    "Split",
    "Task",
    "dataset_info",
    "image_shape",
    "images_to_float",
    "known_datasets",
    "load_local_dataset",
    "load_medmnist",
    "medmnist_filename",
    "medmnist_url",
    "official_md5",
    "partition",
    "partition_dirichlet",
    "partition_iid",
    "partition_quantity",
    "save_local_dataset",
    "split_summary",
    "train_val_split",
]
