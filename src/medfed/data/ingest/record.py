"""What ingestion produces: items and the dataset record registered at the node (5.3.1)."""

from __future__ import annotations

import enum
import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np


class SkipReason(enum.Enum):
    """Why a file did not become an item."""

    NOT_IMAGE = "not a recognised image format"
    NOT_DICOM = "not a DICOM file"
    UNREADABLE = "unreadable or truncated"
    NO_PIXELS = "no pixel data"
    UNSUPPORTED_COMPRESSION = "no pixel handler for the transfer syntax"
    INCONSISTENT_SPACING = "inconsistent slice spacing within the series"


@dataclass(frozen=True)
class Skipped:
    """A file (or series) left out, and why."""

    path: str
    reason: SkipReason
    detail: str = ""


@dataclass(frozen=True, eq=False)
class Item:
    """One image or volume: pixels, spacing in mm (one value per axis, or ``None``), modality,
    study-local patient id, source path(s) relative to the root and SHA-256 of the file bytes
    (for a series: of the sorted per-slice digests)."""

    pixels: np.ndarray
    spacing: tuple[float, ...] | None
    modality: str
    patient_id: str
    source: str
    sha256: str
    label: str | None = None


@dataclass(frozen=True)
class DatasetRecord:
    """Schema, counts, checksums and skipped files of one ingested folder; JSON-serialisable."""

    modalities: tuple[str, ...]
    dims: tuple[int, ...]
    dtypes: tuple[str, ...]
    shapes: dict[str, int]
    counts: dict[str, int]
    checksums: dict[str, str]
    skipped: tuple[Skipped, ...] = ()
    label_problems: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        """The record as canonical JSON (sorted keys), suitable for signing or hashing."""
        data = asdict(self)
        data["skipped"] = [
            {"path": s.path, "reason": s.reason.name, "detail": s.detail} for s in self.skipped
        ]
        return json.dumps(data, sort_keys=True)


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file's bytes, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_record(
    items: list[Item],
    skipped: list[Skipped],
    checksums: dict[str, str],
    label_problems: dict[str, int],
    *,
    rename: Callable[[str], str] | None = None,
) -> DatasetRecord:
    """The record of ``items``; ``checksums`` cover every file read, items and skipped alike.

    ``rename`` maps each source path to the name the record shows (a path that names a
    patient must not reach a record that leaves the de-identification step).
    """
    if rename is not None:
        checksums = _renamed(checksums, rename)
        skipped = [Skipped(rename(s.path), s.reason, s.detail) for s in skipped]
    shapes = Counter("x".join(map(str, item.pixels.shape)) for item in items)
    return DatasetRecord(
        modalities=tuple(sorted({item.modality for item in items})),
        dims=tuple(sorted({item.pixels.ndim for item in items})),
        dtypes=tuple(sorted({str(item.pixels.dtype) for item in items})),
        shapes=dict(sorted(shapes.items())),
        counts={
            "items": len(items),
            "patients": len({item.patient_id for item in items}),
            "files": len(checksums),
            "skipped": len(skipped),
            "labelled": sum(item.label is not None for item in items),
        },
        checksums=dict(sorted(checksums.items())),
        skipped=tuple(sorted(skipped, key=lambda s: s.path)),
        label_problems=dict(label_problems),
    )


def _renamed(checksums: dict[str, str], rename: Callable[[str], str]) -> dict[str, str]:
    # Two files may get the same shown name (identical bytes, both redacted to their hash):
    # each keeps its own entry, so the record still counts and lists every file.
    out: dict[str, str] = {}
    for path, digest in checksums.items():
        shown = base = rename(path)
        copy = 1
        while shown in out:
            copy += 1
            shown = f"{base}#{copy}"
        out[shown] = digest
    return out
