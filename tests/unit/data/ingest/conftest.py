"""Small hospital folders built from pydicom's shipped sample files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset


def sample(name: str) -> Path:
    """A sample file that ships inside the pydicom wheel (never downloaded)."""
    return Path(get_testdata_file(name, download=False))


def ct_slice(index: int, *, z: float, series: str = "1.2.826.0.1.1") -> Dataset:
    """One slice of a synthetic CT series: CT_small moved to height ``z``."""
    ds = pydicom.dcmread(sample("CT_small.dcm"))
    ds.SeriesInstanceUID = series
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{series}.{index}"
    ds.InstanceNumber = index
    x, y, _ = ds.ImagePositionPatient
    ds.ImagePositionPatient = [x, y, z]
    return ds


@pytest.fixture
def copy_sample():
    """Copy a shipped sample into a folder under a chosen name."""

    def _copy(name: str, target: Path) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample(name), target)
        return target

    return _copy
