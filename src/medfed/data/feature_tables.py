"""Feature tables in the shape of a MedMNIST file, so the federated path trains on them alike.

A table (one float feature vector per record) gets official-style train / val / test
splits: a stratified, seeded 20 % test split for the result party, 10 % of the rest
for validation. Features are standardised with the training rows' mean and standard
deviation (in a deployment, hospitals would pool these as sums and sums of squares:
aggregate statistics, never records), applied to every split.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medfed.data.features.base import params_digest
from medfed.data.medmnist import DatasetInfo, MedMNIST, Split, dataset_info, load_medmnist
from medfed.data.partition import train_val_split
from medfed.data.radiomics import RADIOMICS_TABLES, radiomics_splits
from medfed.data.radiomics import table_signatures as radiomics_signatures
from medfed.data.tabular import (
    IMAGE_STATISTICS_NAMES,
    Table,
    fit_standardizer,
    image_statistics,
    image_statistics_params,
    load_breast_cancer_table,
)
from medfed.errors import DataError, DataIntegrityError, DataUnavailableError

TEST_FRACTION = 0.2
# Feature tables computed from the grey-level 28 x 28 images of a MedMNIST subset.
IMAGE_STATISTICS_SOURCES = {
    "breastmnist_stats": "breastmnist",
    "pneumoniamnist_stats": "pneumoniamnist",
    "pneumoniamnist_texture": "pneumoniamnist",
}
# Tables that keep only some of the statistics (``image_statistics`` names); the rest keep all.
IMAGE_STATISTICS_COLUMNS = {
    "pneumoniamnist_texture": ("glcm_contrast", "glcm_homogeneity", "glcm_energy", "glcm_correlation"),
}
VAL_FRACTION = 0.1


def table_signatures(flag: str) -> list[str]:
    """The extractor signatures of table ``flag``, as its hospitals' data files record them:
    radiomics tables list their extractors; an image-statistics table names its source images
    and columns, so parties on different tables are told apart before modeling (5.3.2d)."""
    if flag in IMAGE_STATISTICS_SOURCES:
        columns = IMAGE_STATISTICS_COLUMNS.get(flag, IMAGE_STATISTICS_NAMES)
        params = {**image_statistics_params(), "source": IMAGE_STATISTICS_SOURCES[flag], "columns": list(columns)}
        return [f"image_statistics/v1/sha256:{params_digest(params)}"]
    return radiomics_signatures(flag)


def load_feature_table(flag: str, *, seed: int, data_dir: Path | None = None) -> MedMNIST:
    """Table ``flag`` as splits of float32 (N, F) features and int64 labels."""
    info = dataset_info(flag)
    if info.dims != 0:
        raise DataError(f"{flag} is an image dataset, not a feature table")
    if flag in IMAGE_STATISTICS_SOURCES:
        return _image_statistics_table(info, IMAGE_STATISTICS_SOURCES[flag], data_dir)
    if flag in RADIOMICS_TABLES:
        return _radiomics_table(info, data_dir)
    table = load_breast_cancer_table(seed=seed)
    labels = np.asarray(table.labels, dtype=np.int64)
    everything = np.arange(len(labels))
    rest, test = train_val_split(everything, labels, val_fraction=TEST_FRACTION, seed=seed)
    train, val = train_val_split(rest, labels, val_fraction=VAL_FRACTION, seed=seed + 1)
    features = np.asarray(table.features, dtype=np.float64)
    mean = features[train].mean(axis=0)
    std = features[train].std(axis=0)
    scaled = ((features - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)

    def split(rows: np.ndarray) -> Split:
        return Split(scaled[rows], labels[rows])

    return MedMNIST(
        info=info, size=0, path=Path("<scikit-learn>"), md5="", train=split(train), val=split(val), test=split(test)
    )


def _image_statistics_table(info: DatasetInfo, source: str, data_dir: Path | None) -> MedMNIST:
    """The official splits of MedMNIST subset ``source``, each image reduced to the same 14
    intensity and texture statistics (``image_statistics``), or the table's chosen few."""
    images = load_medmnist(source, size=28, data_dir=data_dir)
    raw = {name: image_statistics(getattr(images, name).images)[0] for name in ("train", "val", "test")}
    kept = IMAGE_STATISTICS_COLUMNS.get(info.flag)
    if kept is not None:
        columns = [IMAGE_STATISTICS_NAMES.index(name) for name in kept]
        raw = {name: values[:, columns] for name, values in raw.items()}
    scale = fit_standardizer(raw["train"])

    def split(name: str) -> Split:
        return Split(scale.apply(raw[name]).astype(np.float32), getattr(images, name).labels.astype(np.int64))

    return MedMNIST(
        info=info, size=0, path=images.path, md5=images.md5, train=split("train"), val=split("val"), test=split("test")
    )


def _radiomics_table(info: DatasetInfo, data_dir: Path | None) -> MedMNIST:
    """The official splits of the table's source subset, each image reduced to its radiomics
    features (``medfed.data.radiomics``), standardised with the training rows' statistics."""
    images, raw = radiomics_splits(info.flag, data_dir)
    scale = fit_standardizer(raw["train"])

    def split(name: str) -> Split:
        features = scale.apply(raw[name]).astype(np.float32)
        return Split(features, getattr(images, name).labels.astype(np.int64))

    return MedMNIST(
        info=info, size=0, path=images.path, md5=images.md5, train=split("train"), val=split("val"), test=split("test")
    )


def encode_signatures(signatures: Sequence[str]) -> np.ndarray:
    """The ``extractors`` entry of a data file: a JSON list of signatures as a 0-d string."""
    return np.array(json.dumps(list(signatures)))


def extractor_signatures(path: str | Path) -> list[str]:
    """The extractor signatures (``name/vN/sha256:params``) a feature table was computed with,
    in column order; empty for a table that records none. :class:`DataIntegrityError` if the
    file or its ``extractors`` entry is unreadable. Parties compare these with
    ``medfed.data.features.check_same_extractors`` before modeling (5.3.2d)."""
    path = Path(path)
    if not path.is_file():
        raise DataUnavailableError(f"data file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "extractors" not in data.files:
                return []
            decoded = json.loads(str(data["extractors"]))
    except (OSError, ValueError, EOFError) as exc:
        raise DataIntegrityError(f"{path}: unreadable extractors entry ({exc})") from None
    if not isinstance(decoded, list) or not all(isinstance(s, str) for s in decoded):
        raise DataIntegrityError(f"{path}: the extractors entry is not a JSON list of signatures")
    return decoded


def save_party_table(path: str | Path, table: Table, *, extractors: Sequence[str] = ()) -> None:
    """One party's own columns (and labels, at the label party) as a data file on its disk,
    with the signatures of the extractors that computed them (``extractors``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {
        "ids": np.array(table.ids, dtype=np.str_),
        "features": np.asarray(table.features, dtype=np.float64),
        "feature_names": np.array(table.feature_names, dtype=np.str_),
        "extractors": encode_signatures(extractors),
    }
    if table.labels is not None:
        arrays["labels"] = np.asarray(table.labels, dtype=np.int64)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def load_party_table(path: str | Path) -> Table:
    """Read a party's table; DataUnavailableError if absent, DataIntegrityError if malformed."""
    path = Path(path)
    if not path.is_file():
        raise DataUnavailableError(f"party data file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        return Table(
            ids=tuple(str(i) for i in arrays["ids"]),
            features=arrays["features"].astype(np.float64),
            labels=arrays["labels"].astype(np.int64) if "labels" in arrays else None,
            feature_names=tuple(str(n) for n in arrays["feature_names"]),
        )
    except (KeyError, ValueError, OSError) as exc:
        raise DataIntegrityError(f"{path} is not a party feature table: {exc}") from None
    except DataError as exc:
        raise DataIntegrityError(f"{path}: {exc}") from None
