"""The public surface of medfed.data.deid and medfed.data.ingest."""

from __future__ import annotations

import medfed.data.deid
import medfed.data.ingest

DEID = {
    "ACTIONS",
    "Action",
    "BurnedIn",
    "DeidKey",
    "DeidOptions",
    "DeidResult",
    "Finding",
    "FindingKind",
    "FolderReport",
    "Identifiers",
    "VerificationReport",
    "collect_identifiers",
    "deidentify",
    "deidentify_folder",
    "find_residual_identifiers",
    "verify_deidentified",
}
INGEST = {
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
}


def test_deid_public_api_is_exactly_the_listed_names() -> None:
    assert set(medfed.data.deid.__all__) == DEID
    for name in DEID:
        assert hasattr(medfed.data.deid, name)


def test_ingest_public_api_is_exactly_the_listed_names() -> None:
    assert set(medfed.data.ingest.__all__) == INGEST
    for name in INGEST:
        assert hasattr(medfed.data.ingest, name)
