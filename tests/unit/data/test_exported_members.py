"""The public surface of medfed.data, and its place in the layers."""

from __future__ import annotations

import subprocess
import sys

import medfed.data

EXPECTED = {
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
}


def test_public_api_is_exactly_the_listed_names() -> None:
    assert set(medfed.data.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(medfed.data, name).__module__.startswith("medfed.data")


def test_importing_the_data_layer_does_not_pull_in_torch() -> None:
    code = "import sys, medfed.data; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
