"""Refusing data that still identifies someone (5.2c, 5.6a).

``find_residual_identifiers`` scans every element, nested sequences and file meta included,
and lists what remains; ``verify_deidentified`` does the same for a dataset or a whole folder
and raises :class:`DataError` when anything is found. Findings name the attribute and its
path, never the identifying value, so a report can be logged and shared.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from medfed.data.deid._walk import (
    DATE_VRS,
    SOFTWARE_UID_KEYWORDS,
    TEXT_VRS,
    TIME_VRS,
    effective_vr,
    is_known_public,
    is_well_known_uid,
    values,
    walk,
)
from medfed.data.deid.actions import META_PRIVATE_TAGS, Action, action_for
from medfed.data.deid.dates import is_valid
from medfed.data.deid.identifiers import Identifiers
from medfed.data.deid.keys import PSEUDONYM_PREFIX, UUID_ROOT
from medfed.data.deid.reading import read_headerless
from medfed.errors import DataError

_PSEUDONYM = re.compile(re.escape(PSEUDONYM_PREFIX) + r"[0-9a-f]{16}")


class FindingKind(enum.Enum):
    """Why an element is a residual identifier."""

    NOT_MARKED = "PatientIdentityRemoved is not YES"
    PRIVATE_TAG = "private element"
    UNKNOWN_ELEMENT = "public element the DICOM dictionary does not define"
    LISTED_ATTRIBUTE = "attribute the profile removes or empties still has a value"
    PERSON_NAME = "person name with a value"
    ORIGINAL_UID = "original UID"
    UNMAPPED_UID = "instance UID not replaced"
    UNSHIFTED_DATE = "date equals the original date"
    UNDECLARED_DATE = "date present but dates are not declared shifted"
    MALFORMED_DATE = "date or time that is not a valid DICOM value (it may hold any text)"
    IDENTIFYING_TEXT = "text contains an original name or identifier"
    BURNED_IN = "pixels carry burned-in annotation"


@dataclass(frozen=True)
class Finding:
    """One residual identifier: where it is and why it counts."""

    kind: FindingKind
    path: str
    source: str = ""

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}{self.path}: {self.kind.value}"


@dataclass(frozen=True)
class VerificationReport:
    """What a verification looked at and what it found."""

    files_checked: int
    findings: tuple[Finding, ...]
    unchecked: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """Whether nothing identifying was found."""
        return not self.findings


def find_residual_identifiers(
    ds: Dataset, originals: Identifiers | None = None, *, source: str = ""
) -> tuple[Finding, ...]:
    """Every residual identifier in ``ds``; ``originals`` adds value checks against the source."""
    findings: list[Finding] = []

    def add(kind: FindingKind, path: str) -> None:
        findings.append(Finding(kind, path, source))

    if str(ds.get("PatientIdentityRemoved", "")).strip().upper() != "YES":
        add(FindingKind.NOT_MARKED, "PatientIdentityRemoved")
    if str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES":
        add(FindingKind.BURNED_IN, "BurnedInAnnotation")
    dates_declared = (
        str(ds.get("LongitudinalTemporalInformationModified", "")).strip() == "MODIFIED"
    )
    for path, elem in walk(ds):
        if elem.tag.is_private or int(elem.tag) in META_PRIVATE_TAGS:
            add(FindingKind.PRIVATE_TAG, path)
            continue
        if not is_known_public(elem.tag):
            add(FindingKind.UNKNOWN_ELEMENT, path)
            continue
        found = values(elem) if elem.VR != "SQ" else []
        vr = effective_vr(elem)  # a date written as SH is checked as a date
        if _listed_with_value(int(elem.tag), elem.keyword, found, elem.VR, elem.value):
            add(FindingKind.LISTED_ATTRIBUTE, path)
        if vr == "PN" and found:
            add(FindingKind.PERSON_NAME, path)
        elif vr == "UI":
            for kind in _uid_findings(elem.keyword, found, originals):
                add(kind, path)
        elif vr in DATE_VRS and found:
            if not dates_declared:
                add(FindingKind.UNDECLARED_DATE, path)
            if originals and any((int(elem.tag), v[:8]) in originals.dates for v in found):
                add(FindingKind.UNSHIFTED_DATE, path)
        if vr in TIME_VRS and not all(is_valid(vr, v) for v in found):
            # Searching a date or time for the originals would match a short numeric ID by
            # chance ("101" in 101500); a strictly valid value holds no name and no other date.
            add(FindingKind.MALFORMED_DATE, path)
        if originals and vr in TEXT_VRS and not _is_pseudonym(elem.keyword, found):
            if any(originals.found_in(v) for v in found):
                add(FindingKind.IDENTIFYING_TEXT, path)
    return tuple(findings)


def verify_deidentified(
    target: Dataset | Path, originals: Identifiers | None = None
) -> VerificationReport:
    """Check a dataset, a file or every file under a folder; :class:`DataError` on any finding.

    Files under a folder that are not DICOM are listed in ``unchecked`` (they are not images
    this profile can vouch for, and the caller decides whether they may stay).
    """
    if isinstance(target, Dataset):
        report = VerificationReport(1, find_residual_identifiers(target, originals))
    else:
        report = _verify_path(Path(target), originals)
    if not report.passed:
        shown = "; ".join(str(f) for f in report.findings[:10])
        more = len(report.findings) - 10
        suffix = f"; and {more} more" if more > 0 else ""
        raise DataError(
            f"de-identification incomplete: {len(report.findings)} residual identifier(s): "
            f"{shown}{suffix}. Run the data through medfed.data.deid.deidentify before use."
        )
    return report


def _verify_path(root: Path, originals: Identifiers | None) -> VerificationReport:
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    findings: list[Finding] = []
    unchecked: list[str] = []
    checked = 0
    for path in files:
        name = str(path.relative_to(root)) if path != root else path.name
        ds: Dataset
        try:
            ds = pydicom.dcmread(path)
        except InvalidDicomError:
            # A bare dataset without the file header is DICOM all the same and is checked.
            headerless = read_headerless(path, need_pixels=False)
            if headerless is None:
                unchecked.append(name)
                continue
            ds = headerless
        except (OSError, ValueError, EOFError):
            unchecked.append(name)
            continue
        checked += 1
        findings.extend(find_residual_identifiers(ds, originals, source=name))
    return VerificationReport(checked, tuple(findings), tuple(unchecked))


def _is_pseudonym(keyword: str, found: list[str]) -> bool:
    return keyword == "PatientID" and len(found) == 1 and bool(_PSEUDONYM.fullmatch(found[0]))


def _listed_with_value(tag: int, keyword: str, found: list[str], vr: str, value: object) -> bool:
    action = action_for(tag)
    if action is Action.REMOVE:
        return True
    if action is Action.ZERO:
        has_value = bool(value) if vr == "SQ" else bool(found)
        return has_value and not _is_pseudonym(keyword, found)
    return False


def _uid_findings(
    keyword: str, found: list[str], originals: Identifiers | None
) -> list[FindingKind]:
    kinds: list[FindingKind] = []
    for uid in found:
        if keyword in SOFTWARE_UID_KEYWORDS:
            continue
        if originals and uid in originals.uids:
            kinds.append(FindingKind.ORIGINAL_UID)
        elif not (is_well_known_uid(uid) or uid.startswith(UUID_ROOT)):
            kinds.append(FindingKind.UNMAPPED_UID)
    return kinds
