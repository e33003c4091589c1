"""A hospital's own data file: its train and validation images, checked before training.

The file is an ``.npz`` with ``train_images``, ``train_labels``, ``val_images``,
``val_labels`` and ``meta`` (a JSON string ``{"flag": ..., "size": ...}``) naming the
MedMNIST subset whose image shape and classes the data must match, and ``extractors`` (a
JSON list of the feature-extractor signatures that computed a feature table; empty for
images). ``medfed data register`` writes such a file from a hospital's image folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medfed.data._npz import read_npz
from medfed.data.feature_tables import table_signatures
from medfed.data.medmnist import DatasetInfo, Split, dataset_info, image_shape
from medfed.errors import DataError, DataIntegrityError, DataUnavailableError

_KEYS = ("train_images", "train_labels", "val_images", "val_labels", "meta")


@dataclass(frozen=True, eq=False)
class LocalDataset:
    """One hospital's verified data: ``train`` and ``val`` of subset ``flag`` at ``size``."""

    flag: str
    size: int
    train: Split
    val: Split
    n_classes: int
    dims: int

    @property
    def info(self) -> DatasetInfo:
        return dataset_info(self.flag)


def _problems(
    info: DatasetInfo, size: int, name: str, images: np.ndarray, labels: np.ndarray
) -> list[str]:
    """Every way ``images``/``labels`` fail to be a split of ``info`` at ``size``."""
    found = []
    shape = image_shape(info, size)
    if info.dims == 0:
        if images.dtype != np.float32 or images.shape[1:] != shape:
            found.append(f"{name} features are {images.dtype} of shape {images.shape}; {info.flag} needs float32 (N, {shape[0]})")
        elif not np.all(np.isfinite(images)):
            found.append(f"{name} features hold NaN/Inf values")
    elif images.dtype != np.uint8 or images.shape[1:] != shape:
        found.append(
            f"{name} images are {images.dtype} of shape {images.shape}; {info.flag} at size "
            f"{size} needs uint8 (N, {', '.join(map(str, shape))})"
        )
    if labels.ndim != 1:
        found.append(f"{name} labels have shape {labels.shape}, not (N,)")
    elif images.ndim and len(labels) != len(images):  # 0-d images: the shape check says so
        found.append(f"{name} has {len(images)} images but {len(labels)} labels")
    if not np.issubdtype(labels.dtype, np.integer):
        found.append(f"{name} labels are {labels.dtype}, not integers")
    elif labels.size and (labels.min() < 0 or labels.max() >= info.n_classes):
        bad = sorted({int(v) for v in labels[(labels < 0) | (labels >= info.n_classes)]})
        found.append(
            f"{name} labels include {bad[:10]}, outside {info.flag}'s classes 0..{info.n_classes - 1}"
        )
    return found


def _checked(info: DatasetInfo, size: int, arrays: dict[str, np.ndarray]) -> tuple[Split, Split]:
    problems = []
    for name in ("train", "val"):
        problems += _problems(info, size, name, arrays[f"{name}_images"], arrays[f"{name}_labels"])
    if not problems and len(arrays["train_labels"]) == 0:
        problems.append("there are no training images")
    if problems:
        raise DataIntegrityError("; ".join(problems))
    train, val = (
        Split(arrays[f"{n}_images"], arrays[f"{n}_labels"].astype(np.int64))
        for n in ("train", "val")
    )
    return train, val


def save_local_dataset(
    path: str | Path,
    *,
    flag: str,
    size: int,
    train: Split,
    val: Split,
    extractors: Sequence[str] | None = None,
) -> None:
    """Write a hospital's data file atomically, refusing data that would not load back.

    ``extractors``: signatures of the feature extractors that computed a feature table,
    stored as the ``extractors`` entry (a JSON list) so the dispatcher can compare parties;
    by default those that define ``flag`` (none for images).
    """
    path = Path(path)
    signatures = table_signatures(flag) if extractors is None else list(extractors)
    info = dataset_info(flag)
    arrays: dict[str, Any] = {
        "train_images": train.images,
        "train_labels": train.labels,
        "val_images": val.images,
        "val_labels": val.labels,
    }
    try:
        _checked(info, size, arrays)
    except DataIntegrityError as exc:
        raise DataError(f"refusing to write {path}: {exc}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                **arrays,
                meta=np.array(json.dumps({"flag": flag, "size": size})),
                extractors=np.array(json.dumps(signatures)),
            )
        os.replace(tmp_name, path)  # readers see the old file or the whole new one
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def load_local_dataset(path: str | Path) -> LocalDataset:
    """Read and check a hospital's data file.

    :class:`DataUnavailableError` if it is missing; :class:`DataIntegrityError` naming
    every problem if it is corrupt, lacks keys, or its images or labels do not fit the
    subset named in its ``meta``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataUnavailableError(f"local dataset {path} does not exist")
    arrays = read_npz(path, _KEYS)
    for key in ("train_labels", "val_labels"):
        # A share cut straight from an official file keeps its (N, 1) label layout.
        if arrays[key].ndim == 2 and arrays[key].shape[1] == 1:
            arrays[key] = arrays[key].reshape(-1)
    try:
        meta = json.loads(str(arrays["meta"]))
        flag, size = str(meta["flag"]), int(meta["size"])
    except (ValueError, TypeError, KeyError) as exc:
        raise DataIntegrityError(f"{path}: meta is not JSON with flag and size ({exc})") from None
    try:
        info = dataset_info(flag)
    except DataError as exc:
        raise DataIntegrityError(f"{path}: meta names an unusable subset: {exc}") from None
    try:
        train, val = _checked(info, size, arrays)
    except DataIntegrityError as exc:
        raise DataIntegrityError(f"{path}: {exc}") from None
    return LocalDataset(flag, size, train, val, info.n_classes, info.dims)
