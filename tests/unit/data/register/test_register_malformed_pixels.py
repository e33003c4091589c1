"""One malformed file is skipped as unreadable; it never stops the registration (5.2c)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import UID

from medfed.data.register import RegisterOptions, parallel, register_folder
from medfed.data.register import read as register_read
from medfed.errors import ConfigError
from tests.unit.data.register.test_register_adversarial import KEY, _ct, _hospital, _options


# Each is patient 9, in a folder and a file named after them.
def _empty_pixels(path: Path) -> None:
    ds = _ct(9)
    ds.BitsStored, ds.HighBit = 12, 11
    ds.PixelData = b""  # read back as None
    ds.save_as(path)


def _private_syntax(path: Path) -> None:
    ds = _ct(9)
    ds.BitsStored, ds.HighBit = 12, 11
    ds.file_meta.TransferSyntaxUID = UID("1.2.826.0.1.3680043.99.1")
    pydicom.dcmwrite(path, ds, implicit_vr=False, little_endian=True)


def _signed_two(path: Path) -> None:
    ds = _ct(9)
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 2
    ds.save_as(path)


@pytest.mark.clause("5.2c")
@pytest.mark.parametrize(
    ("make", "reason"), [(_empty_pixels, "NO_PIXELS"), (_private_syntax, "UNREADABLE"), (_signed_two, "UNREADABLE")]
)
def test_a_file_whose_pixels_cannot_be_cleared_is_skipped_not_fatal(
    tmp_path: Path, make: object, reason: str
) -> None:
    csv_path = _hospital(tmp_path / "in", n=4)
    bad = tmp_path / "in" / "Family9_Given9" / "MRN00009.dcm"
    bad.parent.mkdir()
    make(bad)  # type: ignore[operator]
    register_folder(tmp_path / "in", tmp_path / "out", _options(csv_path))
    record = json.loads((tmp_path / "out" / "record.json").read_text())
    skipped = record["source"]["skipped"]
    assert [s["reason"] for s in skipped] == [reason], skipped
    assert "NoneType" not in json.dumps(skipped)  # a reason a user can read
    assert record["counts"]["kept"] == 4
    # The folder name is still checked against the unreadable file's own identifiers.
    assert "Family9" not in json.dumps(record) and "MRN00009" not in json.dumps(record)


def test_a_file_that_stops_the_run_closes_the_pool_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[bool] = []
    real = parallel.ordered_map

    def watched(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        def gen():  # type: ignore[no-untyped-def]
            try:
                yield from real(*args, **kwargs)  # type: ignore[arg-type]
            finally:
                closed.append(True)
        return gen()

    def refuse(_: object, *a: object, **k: object) -> tuple[object, ...]:
        return (object(),)  # a finding: the run stops at the first DICOM file

    monkeypatch.setattr(register_read, "ordered_map", watched)
    monkeypatch.setattr(register_read, "find_residual_identifiers", refuse)
    csv_path = _hospital(tmp_path / "in", n=2)
    with contextlib.suppress(Exception):
        try:
            register_folder(tmp_path / "in", tmp_path / "out", _options(csv_path))
        finally:
            assert closed == [True]  # before the traceback is freed


def test_more_workers_than_cpus_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    with pytest.raises(ConfigError, match="at most 8"):
        RegisterOptions(task="breastmnist", key=KEY, workers=9)
    assert RegisterOptions(task="breastmnist", key=KEY, workers=8).workers == 8
    monkeypatch.setattr("os.cpu_count", lambda: 1)  # a small machine still takes the default's few
    assert RegisterOptions(task="breastmnist", key=KEY, workers=4).workers == 4
    with pytest.raises(ConfigError, match="at most 4"):
        RegisterOptions(task="breastmnist", key=KEY, workers=5)


