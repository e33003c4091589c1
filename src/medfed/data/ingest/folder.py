"""Ingesting a hospital folder: every supported file, recursively, into items and a record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medfed.data.ingest.dicom import DicomReader
from medfed.data.ingest.labels import LabelOptions, attach_labels, read_labels
from medfed.data.ingest.others import (
    NIFTI_SUFFIXES,
    PICTURE_SUFFIXES,
    read_nifti,
    read_npz,
    read_picture,
)
from medfed.data.ingest.record import (
    DatasetRecord,
    Item,
    Skipped,
    SkipReason,
    build_record,
    file_sha256,
)
from medfed.errors import DataError


@dataclass(frozen=True)
class IngestOptions:
    """``modality`` for formats that do not record one (NIfTI, PNG/JPEG, npz); labels optional."""

    modality: str = "OT"
    labels: LabelOptions | None = None


@dataclass(frozen=True)
class Ingested:
    """The items read and the record that describes them."""

    items: tuple[Item, ...]
    record: DatasetRecord


def ingest_folder(root: Path, options: IngestOptions | None = None) -> Ingested:
    """Read every image under ``root`` (DICOM, NIfTI, PNG/JPEG, MedMNIST npz).

    Files with other suffixes are tried as DICOM (many archives have no ``.dcm`` suffix).
    Every bad file is counted in ``record.skipped`` with a reason; only an absent ``root`` or an
    unusable labels CSV raises (:class:`DataError` / :class:`~medfed.errors.ConfigError`).
    """
    options = options or IngestOptions()
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root} is not a folder")
    dicom = DicomReader()
    items: list[Item] = []
    skipped: list[Skipped] = []
    checksums: dict[str, str] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        source = str(path.relative_to(root))
        try:
            sha256 = file_sha256(path)
        except OSError as exc:
            skipped.append(Skipped(source, SkipReason.UNREADABLE, str(exc)))
            continue
        checksums[source] = sha256
        if options.labels is not None and path.resolve() == options.labels.csv_path.resolve():
            continue
        lower = path.name.lower()
        if lower.endswith(NIFTI_SUFFIXES):
            _collect(read_nifti(path, source, sha256, options.modality), items, skipped)
        elif lower.endswith(PICTURE_SUFFIXES):
            _collect(read_picture(path, source, sha256, options.modality), items, skipped)
        elif lower.endswith(".npz"):
            _collect(read_npz(path, source, sha256, options.modality), items, skipped)
        else:
            dicom.add(path, source, sha256)
    dicom.finish()
    items.extend(dicom.items)
    skipped.extend(dicom.skipped)
    problems: dict[str, int] = {}
    if options.labels is not None:
        labels = read_labels(options.labels)
        items, problems = attach_labels(items, labels, options.labels.key)
    items.sort(key=lambda item: item.source)
    return Ingested(tuple(items), build_record(items, skipped, checksums, problems))


def _collect(
    result: Item | Skipped | list[Item], items: list[Item], skipped: list[Skipped]
) -> None:
    if isinstance(result, Skipped):
        skipped.append(result)
    elif isinstance(result, Item):
        items.append(result)
    else:
        items.extend(result)
