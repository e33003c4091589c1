"""De-identifying a hospital folder of DICOM files into a new folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from medfed.data.deid.profile import DeidOptions, deidentify
from medfed.data.deid.reading import read_headerless
from medfed.data.deid.verify import find_residual_identifiers
from medfed.errors import DataError


@dataclass(frozen=True)
class FolderReport:
    """What ``deidentify_folder`` wrote, excluded and skipped (paths relative to the source).

    ``patients`` counts distinct pseudonyms; the mapping itself is not kept, since with the
    original IDs beside it it would re-identify everyone. ``unshiftable_dates``: date and time
    elements of written files removed or emptied because they could not be shifted;
    ``overlay_bits_cleared``: written files whose pixel words had bits set outside Bits Stored.
    """

    written: int
    patients: int
    excluded: tuple[tuple[str, str], ...]
    skipped: tuple[tuple[str, str], ...]
    unshiftable_dates: int = 0
    overlay_bits_cleared: int = 0


def deidentify_folder(source: Path, target: Path, options: DeidOptions) -> FolderReport:
    """De-identify every DICOM file under ``source`` into ``target``.

    Outputs are named by their new SOP Instance UID (``<uid>.dcm``): source file names often
    carry a patient name or an accession number. Each output is verified against its own
    source's identifiers before it is written. Images with burned-in annotation are excluded;
    files that are not DICOM or cannot be read are skipped with a reason, never raised.
    """
    target.mkdir(parents=True, exist_ok=True)
    written, pseudonyms = 0, set()
    unshiftable_dates = overlay_bits_cleared = 0
    excluded: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    for path in sorted(p for p in Path(source).rglob("*") if p.is_file()):
        name = str(path.relative_to(source))
        try:
            ds = _read(path)
            result = deidentify(ds, options)
        except (InvalidDicomError, OSError, ValueError, EOFError, DataError) as exc:
            skipped.append((name, f"{type(exc).__name__}: {exc}"))
            continue
        if result.excluded:
            excluded.append((name, "BurnedInAnnotation is YES"))
            continue
        findings = find_residual_identifiers(result.dataset, result.originals)
        if findings:  # the profile missed something: refuse the file rather than write it
            skipped.append((name, "residual identifiers: " + "; ".join(map(str, findings))))
            continue
        sop_instance = str(result.dataset.get("SOPInstanceUID", "") or "")
        if not sop_instance:  # the output's name; without it there is no safe name to give
            skipped.append((name, "no SOP Instance UID"))
            continue
        out = target / f"{sop_instance}.dcm"
        if out.exists():  # same SOP Instance UID: the same image twice, or a clash to look at
            skipped.append((name, "duplicate SOP Instance UID"))
            continue
        problem = _write(result.dataset, out)
        if problem:
            skipped.append((name, problem))
            continue
        written += 1
        pseudonyms.add(result.pseudonym)
        unshiftable_dates += len(result.unshiftable_dates)
        overlay_bits_cleared += result.cleared_unused_bits
    return FolderReport(
        written, len(pseudonyms), tuple(excluded), tuple(skipped),
        unshiftable_dates=unshiftable_dates, overlay_bits_cleared=overlay_bits_cleared,
    )


def _read(path: Path) -> pydicom.Dataset:
    try:
        return pydicom.dcmread(path)
    except InvalidDicomError:
        # A bare dataset without the file header is DICOM all the same.
        headerless = read_headerless(path, need_pixels=False)
        if headerless is None:
            raise
        return headerless


def _write(ds: pydicom.Dataset, out: Path) -> str:
    """Write ``ds`` to ``out`` whole or not at all; why it could not be written, else ``""``."""
    partial = out.with_name(out.name + ".part")
    try:
        ds.save_as(partial, enforce_file_format=False)
    except (OSError, ValueError, TypeError, LookupError) as exc:
        # A value the declared character set cannot encode, or a malformed element.
        partial.unlink(missing_ok=True)
        return f"cannot be written: {type(exc).__name__}"
    partial.replace(out)
    return ""
