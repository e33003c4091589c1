"""Ingesting DICOM series whose headers hold malformed geometry: counted, never a crash."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from medfed.data.ingest import LabelOptions, SkipReason, ingest_folder, read_labels
from medfed.errors import ConfigError

Spoil = Callable[[Dataset, int], None]


def _as_text(keyword: str, text: str) -> Spoil:
    """Write ``keyword`` with VR LO, so any text survives into the file as a real scanner might."""
    tag = pydicom.datadict.tag_for_keyword(keyword)
    return lambda ds, k: ds.__setitem__(tag, DataElement(tag, "LO", text))


def _series(root: Path, spoil: Spoil, n: int = 3) -> None:
    series = generate_uid()
    for k in range(n):
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
        ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.InstanceNumber = series, generate_uid(), k
        ds.ImagePositionPatient = [0.0, 0.0, 2.5 * k]
        spoil(ds, k)
        ds.save_as(root / f"{k}.dcm")


@pytest.mark.clause("5.3.1")
@pytest.mark.parametrize(
    "spoil",
    [
        lambda ds, k: setattr(ds, "ImagePositionPatient", [0.0, 2.5 * k]),  # two values
        _as_text("ImagePositionPatient", "a\\b\\c"),
        _as_text("ImagePositionPatient", "nan\\nan\\nan"),
    ],
    ids=["two-values", "text", "nan"],
)
def test_slices_without_a_usable_position_are_single_images(tmp_path: Path, spoil: Spoil) -> None:
    _series(tmp_path, spoil)
    ingested = ingest_folder(tmp_path)
    assert [i.pixels.shape for i in ingested.items] == [(128, 128)] * 3
    assert ingested.record.counts["files"] == 3


@pytest.mark.parametrize(
    "spoil",
    [_as_text("InstanceNumber", "x"), _as_text("PixelSpacing", "a\\b")],
    ids=["instance-number", "pixel-spacing"],
)
def test_malformed_order_or_spacing_still_gives_the_volume(tmp_path: Path, spoil: Spoil) -> None:
    _series(tmp_path, spoil)
    (volume,) = ingest_folder(tmp_path).items
    assert volume.pixels.shape == (3, 128, 128)
    assert volume.spacing is None or all(s > 0 for s in volume.spacing)


def test_a_text_rescale_slope_is_an_unreadable_file_not_a_crash(tmp_path: Path) -> None:
    _series(tmp_path, _as_text("RescaleSlope", "abc"), n=2)
    ingested = ingest_folder(tmp_path)
    assert not ingested.items
    assert [s.reason for s in ingested.record.skipped] == [SkipReason.UNREADABLE] * 2


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "labels.csv"
    path.write_bytes(text.encode("utf-8"))
    return path


def test_a_spreadsheet_csv_with_bom_crlf_padding_and_extra_columns_reads(tmp_path: Path) -> None:
    text = "\ufeff id , label ,notes\r\nA,1,x\r\nB,0,\"two\r\nlines\"\r\nA,1,again\r\n"
    assert read_labels(LabelOptions(_csv(tmp_path, text))) == {"A": "1", "B": "0"}


def test_rows_without_a_label_or_id_label_nothing(tmp_path: Path) -> None:
    # A blank label is an image not yet read, counted as unlabelled; never a class "".
    text = "id,label\nA,\nB\n,1\nC,0\n"
    assert read_labels(LabelOptions(_csv(tmp_path, text))) == {"C": "0"}


def test_a_label_column_given_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="label twice"):
        read_labels(LabelOptions(_csv(tmp_path, "id,label,label\nA,1,0\n")))
