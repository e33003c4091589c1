"""Reading DICOM files that lack the 128-byte preamble and ``DICM`` prefix.

Older archives and some exporters write a bare dataset. pydicom refuses such a file unless
forced, and a forced read of any other file (a README, a PDF) parses into noise, so a forced
read counts only when it yields a DICOM SOP class.
"""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

_DICOM_ROOT = "1.2.840.10008."


def read_headerless(path: Path, *, need_pixels: bool) -> Dataset | None:
    """The dataset in ``path`` read without its file header, or ``None`` if it is not DICOM.

    ``need_pixels``: only an image (pixel data present) counts.
    """
    try:
        ds = pydicom.dcmread(path, force=True)
        sop_class = str(ds.get("SOPClassUID", "") or "")
        has_pixels = "PixelData" in ds or "FloatPixelData" in ds
    except Exception:  # noqa: BLE001 - forced parsing of arbitrary bytes fails in any way
        return None
    if not sop_class.startswith(_DICOM_ROOT) or (need_pixels and not has_pixels):
        return None
    meta = ds.file_meta
    if "TransferSyntaxUID" not in meta:
        # No meta group at all: the encoding pydicom detected is the transfer syntax.
        implicit, little = ds.original_encoding
        meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit
            else ExplicitVRLittleEndian if little
            else ExplicitVRBigEndian
        )
    return ds
