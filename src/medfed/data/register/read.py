"""Reading a hospital folder with every DICOM file de-identified as it is read (5.2c, 5.6a).

Nothing identifying gets past this step: each DICOM dataset is de-identified (PS3.15 Annex E
basic profile) and verified before its pixels are decoded; a dataset the verifier faults
stops the registration. A date that cannot be shifted is removed (and counted), not the image. Images whose pixels carry burned-in text are excluded. Every
patient, whatever the format, is known from here on only by its study-local pseudonym.
Labels are looked up by the original ID here, since later steps never see it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset

from medfed.data.deid import (
    DeidOptions,
    Finding,
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
from medfed.data.register.parallel import ordered_map
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
    # Date and time elements (by keyword) removed or emptied because they could not be shifted.
    unshiftable_dates: Counter[str] = field(default_factory=Counter)
    files_with_unshiftable_dates: int = 0
    overlay_bits_cleared: int = 0  # files whose pixel words had bits set outside Bits Stored

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


@dataclass(frozen=True)
class _Task:
    """One file to read, with what reading it needs (sent to a worker process)."""

    path: Path
    source: str
    deid: DeidOptions
    modality: str


@dataclass(frozen=True)
class _FileRead:
    """What reading one file gave. ``sha256`` is ``None`` when its bytes could not be read;
    ``others`` are the items of a non-DICOM file (original patient IDs); a DICOM file gives
    its source identifiers and, unless its pixels carry burned-in text (``burned_in``) or the
    verifier found something (``findings``), its de-identified ``dataset``."""

    source: str
    sha256: str | None = None
    skipped: tuple[Skipped, ...] = ()
    others: tuple[Item, ...] = ()
    originals: Identifiers | None = None
    dataset: Dataset | None = None
    burned_in: bool = False
    findings: tuple[Finding, ...] = ()
    original_id: str = ""
    unshiftable_dates: tuple[str, ...] = ()
    overlay_bits_cleared: bool = False


def _read_file(task: _Task) -> _FileRead:
    """Read, de-identify and verify one file (runs in a worker process; never raises for a
    bad file)."""
    source = task.source
    try:
        sha256 = file_sha256(task.path)
    except OSError as exc:
        return _FileRead(source, skipped=(Skipped(source, SkipReason.UNREADABLE, str(exc)),))
    if task.path.name.lower().endswith(NIFTI_SUFFIXES + PICTURE_SUFFIXES + (".npz",)):
        result = _read_other(task.path, source, sha256, task.modality)
        if isinstance(result, Skipped):
            return _FileRead(source, sha256, skipped=(result,))
        return _FileRead(source, sha256, others=(result,) if isinstance(result, Item) else tuple(result))
    ds = read_dicom(task.path, source)
    if isinstance(ds, Skipped):
        return _FileRead(source, sha256, skipped=(ds,))
    try:
        deid = deidentify(ds, task.deid)
    except (DataError, ValueError, TypeError) as exc:
        # A malformed element (pixel layout, transfer syntax) costs this file, not the run.
        return _FileRead(
            source,
            sha256,
            skipped=(Skipped(source, SkipReason.UNREADABLE, f"cannot be de-identified: {exc}"),),
            originals=_identifiers_or_none(ds),  # the path is still checked against them
        )
    findings = () if deid.excluded else find_residual_identifiers(
        deid.dataset, deid.originals, source=source
    )
    usable = not deid.excluded and not findings
    return _FileRead(
        source,
        sha256,
        originals=deid.originals,
        dataset=deid.dataset if usable else None,  # pixels travel back only when they are used
        burned_in=deid.excluded,
        findings=findings,
        original_id=str(ds.get("PatientID", "") or "").strip() if usable else "",
        unshiftable_dates=deid.unshiftable_dates,
        overlay_bits_cleared=deid.cleared_unused_bits,
    )


def read_folder(root: Path, options: RegisterOptions, on_progress: Progress | None = None) -> Read:
    """De-identify, verify and decode every file under ``root`` (see the module docstring).

    Files are read on ``options.workers`` processes; what they give is taken in file order,
    so the result is the same for any number of workers.
    """
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

    tasks = [_Task(p, str(p.relative_to(root)), deid, options.modality) for p in files]
    # Closed at once when a file stops the run, so the pool's pending tasks are cancelled now,
    # not when the traceback is freed.
    with contextlib.closing(ordered_map(_read_file, tasks, options.workers)) as results:
        for done, (path, got) in enumerate(zip(files, results, strict=True), 1):
            source = got.source
            out.skipped.extend(got.skipped)
            if got.sha256 is not None:
                out.checksums[source] = got.sha256
            for item in got.others:
                label = label_of(item.patient_id, path, item.label)
                own = Identifiers(ids=frozenset({item.patient_id}))
                out.found.append(own)
                out.own[source] = own
                out.items.append(
                    dataclasses.replace(
                        item, patient_id=options.key.pseudonym(item.patient_id), label=label
                    )
                )
            if got.originals is not None:
                out.found.append(got.originals)
                _vouch(out, source, got.originals)
                out.unshiftable_dates.update(got.unshiftable_dates)
                out.files_with_unshiftable_dates += bool(got.unshiftable_dates)
                out.overlay_bits_cleared += got.overlay_bits_cleared
            if got.findings:
                raise DataError(
                    "refusing to register: de-identification left identifiers in "
                    + "; ".join(str(f) for f in got.findings[:5])
                )
            if got.burned_in:
                out.burned_in.append(source)
            elif got.dataset is not None and got.sha256 is not None:
                dicom_labels[source] = label_of(got.original_id, path, None)
                dicom.add_dataset(got.dataset, source, got.sha256)
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


def _identifiers_or_none(ds: Dataset) -> Identifiers | None:
    try:
        return collect_identifiers(ds)
    except (ValueError, TypeError):  # the element that stopped de-identification stops this too
        return None


def _vouch(out: Read, source: str, own: Identifiers) -> None:
    """Record the identifiers ``source`` is checked against, if it held any: a file cut off
    before its patient module tells nothing about whom its path may name."""
    if own.names or own.ids:
        out.own[source] = own


def _read_other(path: Path, source: str, sha256: str, modality: str) -> Item | Skipped | list[Item]:
    lower = path.name.lower()
    if lower.endswith(NIFTI_SUFFIXES):
        return read_nifti(path, source, sha256, modality)
    if lower.endswith(PICTURE_SUFFIXES):
        return read_picture(path, source, sha256, modality)
    return read_npz(path, source, sha256, modality)
