"""Loading the official MedMNIST files: registry, checksums, resolution order, downloads."""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from medfed.data import (
    Task,
    _fetch,
    dataset_info,
    images_to_float,
    known_datasets,
    load_medmnist,
    medmnist,
    medmnist_filename,
    medmnist_url,
    official_md5,
)
from medfed.errors import DataError, DataIntegrityError, DataUnavailableError

BREAST_MD5 = "750601b1f35ba3300ea97c75c52ff8f6"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the caller's data dir or writes to ~/.cache."""
    monkeypatch.delenv("MEDFED_DATA_DIR", raising=False)
    monkeypatch.setenv("MEDFED_CACHE_DIR", str(tmp_path / "env-cache"))
    monkeypatch.setattr(_fetch, "_MD5_CACHE", {})


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A loopback HTTP server standing in for Zenodo; files put in the yielded dir are served."""
    root = tmp_path / "zenodo"
    root.mkdir()

    def handler(*args: object, **kwargs: object) -> _QuietHandler:
        return _QuietHandler(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(medmnist, "_URL_BASE", f"http://127.0.0.1:{server.server_port}/files")
    (root / "files").mkdir()
    yield root / "files"
    server.shutdown()
    server.server_close()


# --- registry ---------------------------------------------------------------------------


def test_registry_describes_tasks_channels_and_labels() -> None:
    pneumonia = dataset_info("pneumoniamnist")
    assert (pneumonia.task, pneumonia.n_channels, pneumonia.dims) == (Task.BINARY, 1, 2)
    assert pneumonia.labels == ("normal", "pneumonia")
    assert dataset_info("breastmnist").labels[0] == "malignant"
    assert dataset_info("retinamnist").task is Task.MULTICLASS
    assert dataset_info("retinamnist").n_classes == 5
    assert dataset_info("pathmnist").n_classes == 9
    assert dataset_info("organsmnist").n_classes == 11
    adrenal = dataset_info("adrenalmnist3d")
    assert (adrenal.dims, adrenal.labels) == (3, ("normal", "hyperplasia"))
    assert dataset_info("breastmnist").sizes == (28, 64, 128)
    assert "chestmnist" not in known_datasets()


def test_every_known_md5_is_32_hex_digits() -> None:
    for flag in known_datasets():
        for size in dataset_info(flag).sizes:
            md5 = official_md5(flag, size)
            assert len(md5) == 32 and int(md5, 16) >= 0


def test_file_names_and_urls_follow_the_official_release() -> None:
    assert medmnist_filename("pneumoniamnist") == "pneumoniamnist.npz"
    assert medmnist_filename("breastmnist", 64) == "breastmnist_64.npz"
    assert (
        medmnist_url("breastmnist", 128)
        == "https://zenodo.org/records/10519652/files/breastmnist_128.npz?download=1"
    )


def test_chestmnist_is_refused_as_multilabel() -> None:
    with pytest.raises(DataError, match="multi-label"):
        load_medmnist("chestmnist", download=False)


def test_unknown_flag_lists_the_known_ones() -> None:
    with pytest.raises(DataError, match="unknown MedMNIST subset 'cifar10'.*pneumoniamnist"):
        dataset_info("cifar10")


def test_size_without_known_md5_is_refused_listing_known_sizes() -> None:
    with pytest.raises(DataError, match=r"no official MD5 known for octmnist at size 64.*28"):
        load_medmnist("octmnist", size=64, download=False)


# --- real files -------------------------------------------------------------------------


def test_pneumoniamnist_has_the_official_splits(medmnist_dir: Path) -> None:
    data = load_medmnist("pneumoniamnist", data_dir=medmnist_dir, download=False)
    assert data.md5 == "28209eda62fecd6e6a2d98b1501bb15f"
    assert data.path == medmnist_dir / "pneumoniamnist.npz"
    assert data.train.images.shape == (4708, 28, 28)
    assert data.val.images.shape == (524, 28, 28)
    assert data.test.images.shape == (624, 28, 28)
    assert data.train.images.dtype == np.uint8
    assert data.train.labels.dtype == np.int64 and data.train.labels.shape == (4708,)
    assert dict(enumerate(np.bincount(data.train.labels))) == {0: 1214, 1: 3494}
    assert dict(enumerate(np.bincount(data.test.labels))) == {0: 234, 1: 390}


def test_adrenalmnist3d_loads_as_volumes(medmnist_dir: Path) -> None:
    data = load_medmnist("adrenalmnist3d", data_dir=medmnist_dir, download=False)
    assert data.train.images.shape == (1188, 28, 28, 28)
    volumes = images_to_float(data.val.images, dims=3)
    assert volumes.shape == (98, 1, 28, 28, 28) and volumes.dtype == np.float32


def test_retinamnist_becomes_three_channels_first(medmnist_dir: Path) -> None:
    data = load_medmnist("retinamnist", data_dir=medmnist_dir, download=False)
    assert data.train.images.shape == (1080, 28, 28, 3)
    x = images_to_float(data.train.images, dims=2)
    assert x.shape == (1080, 3, 28, 28) and x.flags.c_contiguous
    assert x[7, 2, 5, 9] == pytest.approx(data.train.images[7, 5, 9, 2] / 255)
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_data_dir_comes_from_the_environment(
    medmnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDFED_DATA_DIR", str(medmnist_dir))
    assert load_medmnist("breastmnist", download=False).path == medmnist_dir / "breastmnist.npz"


def test_explicit_data_dir_wins_over_the_environment(
    medmnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "breastmnist.npz").write_bytes(b"not the file")
    monkeypatch.setenv("MEDFED_DATA_DIR", str(bad))
    data = load_medmnist("breastmnist", data_dir=medmnist_dir, download=False)
    assert data.path == medmnist_dir / "breastmnist.npz"


def test_a_data_dir_without_the_file_falls_back_to_the_cache(
    medmnist_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(medmnist_dir / "breastmnist_64.npz", cache)
    data = load_medmnist("breastmnist", size=64, data_dir=tmp_path, cache_dir=cache, download=False)
    assert data.path == cache / "breastmnist_64.npz"
    assert data.train.images.shape == (546, 64, 64)


# --- integrity --------------------------------------------------------------------------


def test_a_flipped_byte_is_caught_naming_both_md5s(medmnist_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "breastmnist.npz"
    raw = bytearray((medmnist_dir / "breastmnist.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    copy.write_bytes(bytes(raw))
    with pytest.raises(DataIntegrityError) as err:
        load_medmnist("breastmnist", data_dir=tmp_path, download=False)
    message = str(err.value)
    assert str(copy) in message and BREAST_MD5 in message and _md5(copy) in message


def test_a_corrupt_cached_copy_is_reported_when_download_is_off(tmp_path: Path) -> None:
    (tmp_path / "breastmnist.npz").write_bytes(b"junk")
    with pytest.raises(DataIntegrityError, match=BREAST_MD5):
        load_medmnist("breastmnist", cache_dir=tmp_path, download=False)


def test_a_file_that_is_not_an_npz_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    garbage = tmp_path / "breastmnist.npz"
    garbage.write_bytes(b"this is not a zip archive" * 10)
    # No real file with the official MD5 can be garbage, so trust this one for the test.
    monkeypatch.setitem(medmnist._MD5, ("breastmnist", 28), _md5(garbage))
    with pytest.raises(DataIntegrityError, match="not a readable .npz"):
        load_medmnist("breastmnist", data_dir=tmp_path, download=False)


def test_an_npz_missing_keys_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    partial = tmp_path / "breastmnist.npz"
    with partial.open("wb") as f:
        np.savez(f, train_images=np.zeros((2, 28, 28), np.uint8))
    monkeypatch.setitem(medmnist._MD5, ("breastmnist", 28), _md5(partial))
    with pytest.raises(DataIntegrityError, match="lacks the keys train_labels, val_images"):
        load_medmnist("breastmnist", data_dir=tmp_path, download=False)


def test_an_npz_with_images_of_the_wrong_shape_is_refused(
    medmnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The 64x64 file presented as the 28x28 one.
    shutil.copy(medmnist_dir / "breastmnist_64.npz", tmp_path / "breastmnist.npz")
    monkeypatch.setitem(medmnist._MD5, ("breastmnist", 28), _md5(tmp_path / "breastmnist.npz"))
    with pytest.raises(DataIntegrityError, match=r"train_images .*\(546, 64, 64\).*\(N, 28, 28\)"):
        load_medmnist("breastmnist", data_dir=tmp_path, download=False)


def test_md5_is_computed_once_per_file_version(
    medmnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(medmnist_dir / "breastmnist.npz", tmp_path)
    calls: list[Path] = []
    real = _fetch._hash_file

    def counting(path: Path) -> str:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(_fetch, "_hash_file", counting)
    for _ in range(3):
        load_medmnist("breastmnist", data_dir=tmp_path, download=False)
    assert len(calls) == 1
    stat = (tmp_path / "breastmnist.npz").stat()
    os.utime(tmp_path / "breastmnist.npz", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    load_medmnist("breastmnist", data_dir=tmp_path, download=False)
    assert len(calls) == 2


# --- absence and download ---------------------------------------------------------------


def test_missing_file_without_download_says_how_to_provide_it(tmp_path: Path) -> None:
    with pytest.raises(DataUnavailableError) as err:
        load_medmnist(
            "pneumoniamnist", size=64, data_dir=tmp_path, cache_dir=tmp_path, download=False
        )
    message = str(err.value)
    assert "pneumoniamnist_64.npz" in message
    assert "8f4eceb4ccffa70c672198ea285246c6" in message
    assert "https://zenodo.org/records/10519652/files/pneumoniamnist_64.npz" in message
    assert "--data-dir" in message and "MEDFED_DATA_DIR" in message


def test_download_fills_the_cache_and_shows_progress(
    medmnist_dir: Path, server_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(medmnist_dir / "breastmnist.npz", server_root)
    cache = tmp_path / "cache"
    data = load_medmnist("breastmnist", cache_dir=cache)
    assert data.path == cache / "breastmnist.npz"
    assert _md5(data.path) == BREAST_MD5
    assert data.train.images.shape == (546, 28, 28)
    assert "downloading breastmnist.npz" in capsys.readouterr().err
    assert sorted(p.name for p in cache.iterdir()) == ["breastmnist.npz"]
    # Now cached: no network needed.
    (server_root / "breastmnist.npz").unlink()
    assert load_medmnist("breastmnist", cache_dir=cache, download=False).path == data.path


def test_a_corrupt_cached_copy_is_replaced_by_a_fresh_download(
    medmnist_dir: Path, server_root: Path, tmp_path: Path
) -> None:
    shutil.copy(medmnist_dir / "breastmnist.npz", server_root)
    (tmp_path / "breastmnist.npz").write_bytes(b"half a fi")
    data = load_medmnist("breastmnist", cache_dir=tmp_path)
    assert _md5(data.path) == BREAST_MD5


def test_wrong_bytes_from_the_server_leave_nothing_in_the_cache(
    server_root: Path, tmp_path: Path
) -> None:
    (server_root / "breastmnist.npz").write_bytes(os.urandom(4096))
    cache = tmp_path / "cache"
    with pytest.raises(DataIntegrityError, match=f"expected {BREAST_MD5}"):
        load_medmnist("breastmnist", cache_dir=cache)
    assert list(cache.iterdir()) == []


def test_a_server_without_the_file_is_reported_unavailable(
    server_root: Path, tmp_path: Path
) -> None:
    with pytest.raises(DataUnavailableError, match=r"breastmnist\.npz \(MD5 750601b1.*404"):
        load_medmnist("breastmnist", cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_an_unreachable_server_is_reported_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    monkeypatch.setattr(medmnist, "_URL_BASE", "http://127.0.0.1:9/files")
    with pytest.raises(DataUnavailableError, match="MEDFED_DATA_DIR"):
        load_medmnist("breastmnist", cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- conversion -------------------------------------------------------------------------


def test_grey_images_gain_a_channel_axis_and_scale_to_unit_range() -> None:
    images = np.array([[[0, 255], [128, 1]]], dtype=np.uint8)
    x = images_to_float(images, dims=2)
    assert x.shape == (1, 1, 2, 2) and x.dtype == np.float32
    assert x[0, 0, 0, 1] == 1.0 and x[0, 0, 0, 0] == 0.0


@pytest.mark.parametrize(
    ("shape", "dims", "dtype"),
    [((2, 28, 28), 3, np.uint8), ((2, 28), 2, np.uint8), ((2, 28, 28), 2, np.float32)],
)
def test_images_that_do_not_fit_are_refused(shape: tuple[int, ...], dims: int, dtype: type) -> None:
    with pytest.raises(DataError):
        images_to_float(np.zeros(shape, dtype=dtype), dims=dims)
