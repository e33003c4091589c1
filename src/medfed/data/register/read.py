"""Reading a hospital folder with every DICOM file de-identified as it is read (5.2c, 5.6a).

Nothing identifying gets past this step: each DICOM dataset is de-identified (PS3.15 Annex E
basic profile) and verified before its pixels are decoded; a dataset the verifier faults
stops the registration. Images whose pixels carry burned-in text are excluded. Every
patient, whatever the format, is known from here on only by its study-local pseudonym.
Labels are looked up by the original ID here, since later steps never see it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from medfed.data.deid import (
    DeidOptions,
    Identifiers,
    collect_identifiers,
    deidentify,
    find_residual_identifiers,
)
from medfed.data.ingest import Item, LabelKey, Skipped, SkipReason, read_labels
from medfed.data.ingest.dicom import DicomReader, read_dicom
from medfed.data.ingest.others import (
    NIFTI_SUFFIXES,
    PICTURE_SUFFIXES,
    read_nifti,
    read_npz,
    read_picture,
    stem,
)
from medfed.data.ingest.record import file_sha256
from medfed.data.register.options import RegisterOptions
from medfed.data.register.redact import Redactor
from medfed.errors import DataError

Progress = Callable[[str, int, int], None]


@dataclass
class Read:
    """Items (pseudonymised, labels attached), files left out and the source identifiers."""

    items: list[Item] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    burned_in: list[str] = field(default_factory=list)
    checksums: dict[str, str] = field(default_factory=dict)
    found: list[Identifiers] = field(default_factory=list)
    own: dict[str, Identifiers] = field(default_factory=dict)  # each file's own identifiers
    label_problems: dict[str, int] = field(default_factory=dict)

    def redactor(self) -> Redactor:
        """Finds these identifiers in what the registration writes."""
        return Redactor(self.originals, self.own, unread_redacted=True)

    @property
    def originals(self) -> Identifiers:
        """Every identifier the source files held (for the verifier; never written)."""
        return Identifiers(
            names=frozenset().union(*(f.names for f in self.found)),
            ids=frozenset().union(*(f.ids for f in self.found)),
            uids=frozenset().union(*(f.uids for f in self.found)),
            dates=frozenset().union(*(f.dates for f in self.found)),
        )


def list_files(root: Path, options: RegisterOptions) -> list[Path]:
    """Every file under ``root`` except the labels CSV; :class:`DataError` if there is none."""
    if not root.is_dir():
        raise DataError(f"{root} is not a folder")
    csv_path = options.labels.csv_path.resolve() if options.labels else None
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.resolve() != csv_path)
    if not files:
        raise DataError(f"{root} holds no files to register")
    return files


def read_folder(root: Path, options: RegisterOptions, on_progress: Progress | None = None) -> Read:
    """De-identify, verify and decode every file under ``root`` (see the module docstring)."""
    files = list_files(root, options)
    labels = read_labels(options.labels) if options.labels else {}
    by_file_stem = options.labels is not None and options.labels.key is LabelKey.FILE_STEM
    deid = DeidOptions(key=options.key, shift_dates=options.shift_dates)
    out = Read()
    dicom = DicomReader()
    dicom_labels: dict[str, str | None] = {}
    used: set[str] = set()

    def label_of(original_id: str, path: Path, fallback: str | None) -> str | None:
        ident = stem(path) if by_file_stem else original_id
        if ident in labels:
            used.add(ident)
            return labels[ident]
        return fallback

    for done, path in enumerate(files, 1):
        source = str(path.relative_to(root))
        try:
            sha256 = file_sha256(path)
        except OSError as exc:
            out.skipped.append(Skipped(source, SkipReason.UNREADABLE, str(exc)))
            continue
        out.checksums[source] = sha256
        lower = path.name.lower()
        if lower.endswith(NIFTI_SUFFIXES + PICTURE_SUFFIXES + (".npz",)):
            for item in _read_other(path, source, sha256, options, out):
                label = label_of(item.patient_id, path, item.label)
                own = Identifiers(ids=frozenset({item.patient_id}))
                out.found.append(own)
                out.own[source] = own
                out.items.append(
                    dataclasses.replace(
                        item, patient_id=options.key.pseudonym(item.patient_id), label=label
                    )
                )
        else:
            ds = read_dicom(path, source)
            if isinstance(ds, Skipped):
                out.skipped.append(ds)
            else:
                try:
                    result = deidentify(ds, deid)
                except DataError as exc:  # a date that cannot be shifted
                    # Its identifiers still count: the file's path and any other output
                    # must be checked against them.
                    own = collect_identifiers(ds)
                    out.found.append(own)
                    _vouch(out, source, own)
                    out.skipped.append(Skipped(source, SkipReason.UNREADABLE, str(exc)))
                    continue
                out.found.append(result.originals)
                _vouch(out, source, result.originals)
                if result.excluded:
                    out.burned_in.append(source)
                    continue
                findings = find_residual_identifiers(result.dataset, result.originals, source=source)
                if findings:
                    raise DataError(
                        "refusing to register: de-identification left identifiers in "
                        + "; ".join(str(f) for f in findings[:5])
                    )
                original_id = str(ds.get("PatientID", "") or "").strip()
                dicom_labels[source] = label_of(original_id, path, None)
                dicom.add_dataset(result.dataset, source, sha256)
        if on_progress is not None:
            on_progress("read and de-identify", done, len(files))
    dicom.finish()
    out.skipped.extend(dicom.skipped)
    out.items.extend(dataclasses.replace(i, label=dicom_labels.get(i.source)) for i in dicom.items)
    out.items.sort(key=lambda item: item.source)
    if options.labels is not None:
        out.label_problems = {
            "unknown_ids": len(set(labels) - used),
            "unlabelled_items": sum(i.label is None for i in out.items),
        }
        if out.items and not used:
            what = "file name" if by_file_stem else "PatientID"
            raise DataError(
                f"the labels CSV {options.labels.csv_path} matches none of the "
                f"{len(out.items)} images by {what} (column {options.labels.id_column!r}); "
                "check the ID column and the key (--label-key)"
            )
    return out


def _vouch(out: Read, source: str, own: Identifiers) -> None:
    """Record the identifiers ``source`` is checked against, if it held any: a file cut off
    before its patient module tells nothing about whom its path may name."""
    if own.names or own.ids:
        out.own[source] = own


def _read_other(
    path: Path, source: str, sha256: str, options: RegisterOptions, out: Read
) -> list[Item]:
    lower = path.name.lower()
    if lower.endswith(NIFTI_SUFFIXES):
        result: Item | Skipped | list[Item] = read_nifti(path, source, sha256, options.modality)
    elif lower.endswith(PICTURE_SUFFIXES):
        result = read_picture(path, source, sha256, options.modality)
    else:
        result = read_npz(path, source, sha256, options.modality)
    if isinstance(result, Skipped):
        out.skipped.append(result)
        return []
    return [result] if isinstance(result, Item) else result
