"""MedMNIST subsets: what each one is, and loading the official files with their checksums.

A file is looked for in the data directory (``data_dir`` or ``$MEDFED_DATA_DIR``), then
in the cache (``cache_dir``, ``$MEDFED_CACHE_DIR`` or ``~/.cache/medfed/medmnist``), then
downloaded into the cache. Every copy is checked against the official MD5 before use.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medfed.data._fetch import check_md5, download_verified, file_md5
from medfed.data._npz import read_npz
from medfed.errors import DataError, DataIntegrityError, DataUnavailableError

_URL_BASE = "https://zenodo.org/records/10519652/files"
_KEYS = ("train_images", "train_labels", "val_images", "val_labels", "test_images", "test_labels")


class Task(enum.StrEnum):
    BINARY = "binary"
    MULTICLASS = "multiclass"


@dataclass(frozen=True)
class DatasetInfo:
    """One MedMNIST subset: ``labels[i]`` names class ``i``; images have ``dims`` spatial axes."""

    flag: str
    task: Task
    n_channels: int
    dims: int
    labels: tuple[str, ...]

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Image sizes whose official MD5 is known, hence loadable."""
        return tuple(sorted(size for flag, size in _MD5 if flag == self.flag))


_ORGANS_2D = (
    "bladder",
    "femur-left",
    "femur-right",
    "heart",
    "kidney-left",
    "kidney-right",
    "liver",
    "lung-left",
    "lung-right",
    "pancreas",
    "spleen",
)


def _info(flag: str, n_channels: int, labels: tuple[str, ...], dims: int = 2) -> DatasetInfo:
    task = Task.BINARY if len(labels) == 2 else Task.MULTICLASS
    return DatasetInfo(flag, task, n_channels, dims, labels)


# Label names and channel counts follow medmnist.INFO (v3.0.2).
_INFO: dict[str, DatasetInfo] = {
    i.flag: i
    for i in (
        _info(
            "pathmnist",
            3,
            (
                "adipose",
                "background",
                "debris",
                "lymphocytes",
                "mucus",
                "smooth muscle",
                "normal colon mucosa",
                "cancer-associated stroma",
                "colorectal adenocarcinoma epithelium",
            ),
        ),
        _info(
            "dermamnist",
            3,
            (
                "actinic keratoses and intraepithelial carcinoma",
                "basal cell carcinoma",
                "benign keratosis-like lesions",
                "dermatofibroma",
                "melanoma",
                "melanocytic nevi",
                "vascular lesions",
            ),
        ),
        _info(
            "octmnist",
            1,
            ("choroidal neovascularization", "diabetic macular edema", "drusen", "normal"),
        ),
        _info("pneumoniamnist", 1, ("normal", "pneumonia")),
        # RetinaMNIST is ordinal (diabetic retinopathy grade); treated as 5 plain classes.
        _info("retinamnist", 3, ("grade 0", "grade 1", "grade 2", "grade 3", "grade 4")),
        _info("breastmnist", 1, ("malignant", "normal, benign")),
        _info(
            "bloodmnist",
            3,
            (
                "basophil",
                "eosinophil",
                "erythroblast",
                "immature granulocytes (myelocytes, metamyelocytes, promyelocytes)",
                "lymphocyte",
                "monocyte",
                "neutrophil",
                "platelet",
            ),
        ),
        _info(
            "tissuemnist",
            1,
            (
                "collecting duct, connecting tubule",
                "distal convoluted tubule",
                "glomerular endothelial cells",
                "interstitial endothelial cells",
                "leukocytes",
                "podocytes",
                "proximal tubule segments",
                "thick ascending limb",
            ),
        ),
        _info("organamnist", 1, _ORGANS_2D),
        _info("organcmnist", 1, _ORGANS_2D),
        _info("organsmnist", 1, _ORGANS_2D),
        _info("adrenalmnist3d", 1, ("normal", "hyperplasia"), dims=3),
        _info("nodulemnist3d", 1, ("benign", "malignant"), dims=3),
        _info(
            "organmnist3d",
            1,
            (
                "liver",
                "kidney-right",
                "kidney-left",
                "femur-right",
                "femur-left",
                "bladder",
                "heart",
                "lung-right",
                "lung-left",
                "spleen",
                "pancreas",
            ),
            dims=3,
        ),
        _info("vesselmnist3d", 1, ("vessel", "aneurysm"), dims=3),
    )
}

# Official MD5s of the Zenodo 10519652 release. A size missing here cannot be verified,
# so it is refused rather than loaded unchecked.
_MD5: dict[tuple[str, int], str] = {
    ("pathmnist", 28): "a8b06965200029087d5bd730944a56c1",
    ("dermamnist", 28): "0744692d530f8e62ec473284d019b0c7",
    ("octmnist", 28): "c68d92d5b585d8d81f7112f81e2d0842",
    ("pneumoniamnist", 28): "28209eda62fecd6e6a2d98b1501bb15f",
    ("pneumoniamnist", 64): "8f4eceb4ccffa70c672198ea285246c6",
    ("retinamnist", 28): "bd4c0672f1bba3e3a89f0e4e876791e4",
    ("breastmnist", 28): "750601b1f35ba3300ea97c75c52ff8f6",
    ("breastmnist", 64): "742edef2a1fd1524b2efff4bd7ba9364",
    ("breastmnist", 128): "363e4b3f8d712e9b5de15470a2aaadf1",
    ("bloodmnist", 28): "7053d0359d879ad8a5505303e11de1dc",
    ("tissuemnist", 28): "ebe78ee8b05294063de985d821c1c34b",
    ("organamnist", 28): "866b832ed4eeba67bfb9edee1d5544e6",
    ("organcmnist", 28): "0afa5834fb105f7705a7d93372119a21",
    ("organsmnist", 28): "e5c39f1af030238290b9557d9503af9d",
    ("adrenalmnist3d", 28): "bbd3c5a5576322bc4cdfea780653b1ce",
    ("adrenalmnist3d", 64): "17721accfe9fb005146a47d33bc54b2f",
    ("nodulemnist3d", 28): "8755a7e9e05a4d9ce80a24c3e7a256f3",
    ("organmnist3d", 28): "a0c5a1ff56af4f155c46d46fbb45a2fe",
    ("vesselmnist3d", 28): "b41fd4f7e7e2feedddb201585ecafa1b",
}


# Feature tables (dims 0: one feature vector per record, n_channels features), shipped
# by a package rather than downloaded: the Appendix A logistic-regression scenario.
_TABULAR = {
    "breast_cancer": DatasetInfo(
        flag="breast_cancer", task=Task.BINARY, n_channels=30, dims=0, labels=("benign", "malignant")
    ),
    # BreastMNIST ultrasound images reduced to 14 intensity and texture statistics each.
    "breastmnist_stats": DatasetInfo(
        flag="breastmnist_stats", task=Task.BINARY, n_channels=14, dims=0, labels=("malignant", "normal, benign")
    ),
    # BreastMNIST images reduced to 43 radiomics features (first-order, GLCM, GLRLM, shape of
    # an Otsu region; medfed.data.radiomics), computed by named, versioned extractors.
    "breastmnist_radiomics": DatasetInfo(
        flag="breastmnist_radiomics", task=Task.BINARY, n_channels=43, dims=0, labels=("malignant", "normal, benign")
    ),
    "pneumoniamnist_stats": DatasetInfo(
        flag="pneumoniamnist_stats", task=Task.BINARY, n_channels=14, dims=0, labels=("normal", "pneumonia")
    ),
    # The four grey-level co-occurrence texture statistics of the above: a model small enough
    # for client-level DP among a handful of hospitals (the noise grows with the parameters).
    "pneumoniamnist_texture": DatasetInfo(
        flag="pneumoniamnist_texture", task=Task.BINARY, n_channels=4, dims=0, labels=("normal", "pneumonia")
    ),
}


def known_datasets() -> tuple[str, ...]:
    """Flags of the datasets medfed can load, sorted."""
    return tuple(sorted([*_INFO, *_TABULAR]))


def dataset_info(flag: str) -> DatasetInfo:
    """Describe subset ``flag``; :class:`DataError` if it is unknown or multi-label."""
    if flag == "chestmnist":
        raise DataError(
            "chestmnist is multi-label (14 findings per image); medfed trains single-label "
            f"classifiers. Choose one of: {', '.join(known_datasets())}"
        )
    try:
        return _INFO[flag] if flag in _INFO else _TABULAR[flag]
    except KeyError:
        raise DataError(
            f"unknown MedMNIST subset {flag!r}; choose one of: {', '.join(known_datasets())}"
        ) from None


def medmnist_filename(flag: str, size: int = 28) -> str:
    """Official file name: ``{flag}.npz`` at size 28, ``{flag}_{size}.npz`` otherwise."""
    return f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"


def medmnist_url(flag: str, size: int = 28) -> str:
    return f"{_URL_BASE}/{medmnist_filename(flag, size)}?download=1"


def official_md5(flag: str, size: int = 28) -> str:
    """The official MD5 of ``(flag, size)``; :class:`DataError` listing known ones if none."""
    info = dataset_info(flag)
    try:
        return _MD5[(flag, size)]
    except KeyError:
        known = ", ".join(f"{f}@{s}" for f, s in sorted(_MD5))
        raise DataError(
            f"no official MD5 known for {flag} at size {size} (known sizes for {flag}: "
            f"{', '.join(map(str, info.sizes))}); every known pair: {known}"
        ) from None


def image_shape(info: DatasetInfo, size: int) -> tuple[int, ...]:
    """Shape of one stored image (no batch axis): (H, W), (H, W, 3), (D, H, W), or (F,) for features."""
    if info.dims == 0:
        return (info.n_channels,)
    if info.dims == 3:
        return (size, size, size)
    return (size, size) if info.n_channels == 1 else (size, size, info.n_channels)


@dataclass(frozen=True, eq=False)
class Split:
    """Images ``uint8`` of shape (N, *image_shape) and labels ``int64`` of shape (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.labels.ndim != 1 or len(self.images) != len(self.labels):
            raise DataError(
                f"a split needs labels of shape (N,) matching N images; got images "
                f"{self.images.shape} and labels {self.labels.shape}"
            )

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, eq=False)
class MedMNIST:
    """A verified MedMNIST file: its official train / val / test splits."""

    info: DatasetInfo
    size: int
    path: Path
    md5: str
    train: Split
    val: Split
    test: Split


def _read_npz(path: Path, info: DatasetInfo, size: int) -> tuple[Split, Split, Split]:
    arrays = read_npz(path, _KEYS)
    shape = image_shape(info, size)
    splits = []
    for name in ("train", "val", "test"):
        images, labels = arrays[f"{name}_images"], arrays[f"{name}_labels"]
        if images.dtype != np.uint8 or images.shape[1:] != shape:
            raise DataIntegrityError(
                f"{path}: {name}_images are {images.dtype} {images.shape}, expected uint8 (N, "
                f"{', '.join(map(str, shape))}) for {info.flag} at size {size}"
            )
        if labels.shape != (len(images), 1):
            raise DataIntegrityError(
                f"{path}: {name}_labels have shape {labels.shape}, expected ({len(images)}, 1)"
            )
        # The official files store labels as (N, 1); medfed uses flat (N,) class indices.
        splits.append(Split(images, labels.reshape(-1).astype(np.int64)))
    return splits[0], splits[1], splits[2]


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def _locate(
    flag: str, size: int, md5: str, data_dir: Path | None, cache_dir: Path | None, download: bool
) -> Path:
    """Path of a verified copy of the file, downloading it into the cache if allowed."""
    name = medmnist_filename(flag, size)
    data_dir = data_dir or _env_path("MEDFED_DATA_DIR")
    if data_dir is not None and not data_dir.is_dir():
        # A mistyped path should be named, not silently replaced by a download.
        raise DataUnavailableError(
            f"the data directory {data_dir} does not exist (from --data-dir or MEDFED_DATA_DIR); "
            f"it should hold {name} (MD5 {md5})"
        )
    if data_dir is not None and (data_dir / name).is_file():
        check_md5(data_dir / name, md5)  # a wrong file the user supplied is an error, not a miss
        return data_dir / name
    cache_dir = cache_dir or _env_path("MEDFED_CACHE_DIR")
    cache_dir = cache_dir or Path.home() / ".cache" / "medfed" / "medmnist"
    cached = cache_dir / name
    if cached.is_file():
        if file_md5(cached) == md5:
            return cached
        if not download:
            check_md5(cached, md5)  # raises, naming both digests
    url = medmnist_url(flag, size)
    where = f"the data directory {data_dir} or " if data_dir else ""
    how = (
        f"download it by hand from {url} (MD5 {md5}) and put it in a directory given by "
        "--data-dir or MEDFED_DATA_DIR"
    )
    if not download:
        raise DataUnavailableError(
            f"{name} (MD5 {md5}) is not in {where}the cache {cache_dir} and download is off; {how}"
        )
    try:
        download_verified(url, cached, md5=md5)
    except DataUnavailableError as exc:
        raise DataUnavailableError(
            f"{name} (MD5 {md5}) is not in {where}the cache {cache_dir} and could not be "
            f"downloaded ({exc}); {how}"
        ) from exc
    return cached


def load_medmnist(
    flag: str,
    *,
    size: int = 28,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
) -> MedMNIST:
    """Load the official MedMNIST file for ``(flag, size)``, verified by MD5.

    Images keep the file's layout (N, H, W), (N, H, W, 3) or (N, D, H, W) as ``uint8``;
    labels become ``int64`` of shape (N,). Raises :class:`DataError` for an unknown
    subset or size, :class:`DataUnavailableError` when no copy can be found or fetched,
    :class:`DataIntegrityError` when a copy has the wrong checksum or content.
    """
    info = dataset_info(flag)
    md5 = official_md5(flag, size)
    path = _locate(
        flag,
        size,
        md5,
        Path(data_dir).expanduser() if data_dir is not None else None,
        Path(cache_dir).expanduser() if cache_dir is not None else None,
        download,
    )
    train, val, test = _read_npz(path, info, size)
    return MedMNIST(info, size, path, md5, train, val, test)


def images_to_float(images: np.ndarray, *, dims: int) -> np.ndarray:
    """``uint8`` images to ``float32`` in [0, 1], channels first.

    2D grey (N, H, W) -> (N, 1, H, W); 2D colour (N, H, W, C) -> (N, C, H, W);
    3D (N, D, H, W) -> (N, 1, D, H, W). Feature vectors (dims 0, float32 (N, F)) pass through.
    """
    if dims == 0:
        if images.dtype != np.float32 or images.ndim != 2:
            raise DataError(f"feature vectors must be float32 (N, F), not {images.dtype} {images.shape}")
        return np.ascontiguousarray(images)
    if images.dtype != np.uint8:
        raise DataError(f"images must be uint8, not {images.dtype}")
    if (dims, images.ndim) in ((2, 3), (3, 4)):
        out = images[:, None]
    elif dims == 2 and images.ndim == 4:
        out = images.transpose(0, 3, 1, 2)
    else:
        raise DataError(f"cannot read images of shape {images.shape} as {dims}D images")
    # Divide rather than multiply by 1/255 so 255 maps to exactly 1.0; order="C" makes
    # the one copy contiguous, which torch.from_numpy and the model want.
    return np.divide(out, np.float32(255), dtype=np.float32, order="C")
