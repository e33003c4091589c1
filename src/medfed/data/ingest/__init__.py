"""Ingesting a hospital's image folder and registering it (standard 5.3.1).

``ingest_folder`` reads DICOM (series assembled into volumes), NIfTI, PNG/JPEG and MedMNIST
``.npz`` files, attaches labels from a CSV, and returns the items with a
:class:`DatasetRecord`: schema, counts, per-file SHA-256 checksums and every skipped file with
its reason. Bad input is counted, never raised.
"""

from __future__ import annotations

from medfed.data.ingest.folder import Ingested, IngestOptions, ingest_folder
from medfed.data.ingest.labels import LabelKey, LabelOptions, attach_labels, read_labels
from medfed.data.ingest.record import DatasetRecord, Item, Skipped, SkipReason

__all__ = [
    "DatasetRecord",
    "IngestOptions",
    "Ingested",
    "Item",
    "LabelKey",
    "LabelOptions",
    "SkipReason",
    "Skipped",
    "attach_labels",
    "ingest_folder",
    "read_labels",
]
