"""Registration on several processes writes what registration on one writes."""

from __future__ import annotations

import csv
import json
import secrets
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medfed.data.deid import DeidKey
from medfed.data.ingest import LabelKey, LabelOptions
from medfed.data.register import RegisterOptions, parallel, register_folder
from medfed.errors import ConfigError
from tests.unit.data.register.test_register_adversarial import _ct

KEY = DeidKey(secrets.token_bytes(32))


def _mixed_folder(root: Path) -> Path:
    """DICOM slices of 6 patients, 6 PNG pictures, a cut-off DICOM file, a text file and
    a scan whose StudyDate cannot be shifted; labels keyed by file name."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(7)
    rows = []
    for k in range(6):
        _ct(k).save_as(root / f"ct{k}.dcm")
        image = np.kron(rng.integers(0, 255, (4, 4)), np.ones((10, 10))).astype(np.uint8)
        Image.fromarray(image).save(root / f"pic{k}.png")
        rows += [(f"ct{k}", str(k % 2)), (f"pic{k}", str((k + 1) % 2))]
    odd = _ct(9)
    odd.StudyDate = "19991399"  # no 13th month
    odd.save_as(root / "odd.dcm")
    rows.append(("odd", "1"))
    (root / "cut.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")
    (root / "notes.txt").write_text("referral")
    csv_path = root.parent / "labels.csv"
    with csv_path.open("w", newline="") as handle:
        csv.writer(handle).writerows([("id", "label"), *rows])
    return csv_path


@pytest.mark.clause("5.3.1", "5.3.3.2c")
@pytest.mark.filterwarnings("ignore:Invalid value for VR DA")
def test_parallel_and_serial_registration_write_the_same_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv_path = _mixed_folder(tmp_path / "in")
    pools: list[int] = []

    class CountedPool(parallel.ProcessPoolExecutor):
        def __init__(self, workers: int, **kwargs) -> None:
            pools.append(workers)
            super().__init__(workers, **kwargs)

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", CountedPool)
    monkeypatch.setattr(parallel, "POOL_MIN_INPUTS", 2)  # a pool even for this small folder
    progress: dict[int, list[tuple[str, int, int]]] = {}
    for workers in (1, 2):
        options = RegisterOptions(
            task="breastmnist", key=KEY, size=64, min_count=1, workers=workers,
            labels=LabelOptions(csv_path, key=LabelKey.FILE_STEM),
        )
        calls = progress.setdefault(workers, [])
        register_folder(
            tmp_path / "in", tmp_path / f"out{workers}", options,
            on_progress=lambda *call, calls=calls: calls.append(call),
        )
    assert pools == [2]  # the serial run used none
    serial, pooled = tmp_path / "out1", tmp_path / "out2"
    names = sorted(p.name for p in serial.iterdir())
    assert names == sorted(p.name for p in pooled.iterdir())
    for name in names:
        if name.endswith(".npz"):  # the zip container stamps the time; compare what it holds
            with np.load(serial / name) as a, np.load(pooled / name) as b:
                assert a.files == b.files
                for key in a.files:
                    assert a[key].dtype == b[key].dtype and a[key].tobytes() == b[key].tobytes()
        else:
            assert (serial / name).read_bytes() == (pooled / name).read_bytes(), name
    record = json.loads((serial / "record.json").read_text())
    assert record["counts"]["kept"] == 13  # 6 scans, 6 pictures and the one with a bad date
    assert progress[1] == progress[2]
    assert progress[1][-1] == ("standardise", 13, 13)
    assert ("read and de-identify", 15, 15) in progress[1]


def test_workers_must_be_at_least_one() -> None:
    with pytest.raises(ConfigError, match="workers must be at least 1"):
        RegisterOptions(task="breastmnist", key=KEY, workers=0)
    assert 1 <= RegisterOptions(task="breastmnist", key=KEY).workers <= 4


def test_results_come_back_in_input_order_and_errors_at_their_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parallel, "POOL_MIN_INPUTS", 2)
    values = list(range(40, 0, -1))  # later inputs finish first
    assert list(parallel.ordered_map(_slow_square, values, 3)) == [v * v for v in values]
    got = parallel.ordered_map(_square_unless_seven, list(range(10)), 2)
    assert [next(got) for _ in range(7)] == [v * v for v in range(7)]
    with pytest.raises(ValueError, match="seven"):
        next(got)


def _slow_square(value: int) -> int:
    import time

    time.sleep(value / 4000)
    return value * value


def _square_unless_seven(value: int) -> int:
    if value == 7:
        raise ValueError("seven")
    return value * value


def test_a_process_running_other_threads_gets_workers_from_a_fork_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    monkeypatch.setattr(parallel, "POOL_MIN_INPUTS", 2)
    stop = threading.Event()
    display = threading.Thread(target=stop.wait)  # as a progress display runs beside the work
    display.start()
    try:
        assert parallel._context().get_start_method() == "forkserver"
        assert list(parallel.ordered_map(_slow_square, [3, 2, 1], 2)) == [9, 4, 1]
    finally:
        stop.set()
        display.join()
