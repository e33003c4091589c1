"""The identifiers a source dataset holds, gathered before it is de-identified.

The verifier compares a de-identified dataset against them: a residual original UID, ID, name
or unshifted date is found by value, wherever it hides.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from medfed.data.deid._walk import (
    DATE_VRS,
    SOFTWARE_UID_KEYWORDS,
    effective_vr,
    is_well_known_uid,
    values,
    walk,
)

# Attributes whose values, if they show up anywhere (free text included), identify the
# patient or the site.
_ID_KEYWORDS = frozenset(
    {
        "PatientID",
        "OtherPatientIDs",
        "AccessionNumber",
        "StudyID",
        "IssuerOfPatientID",
        "MedicalRecordLocator",
        "AdmissionID",
        "RequestedProcedureID",
        "PerformedProcedureStepID",
        "DeviceSerialNumber",
        "InstitutionName",
        "InstitutionAddress",
        "InstitutionalDepartmentName",
        "StationName",
        "PatientAddress",
        "PatientTelephoneNumbers",
    }
)
# Shorter strings match by accident (a one-letter sex code, "CT").
_MIN_TEXT_LEN = 3


@dataclass(frozen=True)
class Identifiers:
    """Original identifiers of one or more source datasets.

    ``names``: person names and their components; ``ids``: patient, study and site identifiers;
    ``uids``: instance UIDs (well-known DICOM UIDs excluded); ``dates``: ``(tag, YYYYMMDD)``.
    """

    names: frozenset[str] = field(default_factory=frozenset)
    ids: frozenset[str] = field(default_factory=frozenset)
    uids: frozenset[str] = field(default_factory=frozenset)
    dates: frozenset[tuple[int, str]] = field(default_factory=frozenset)

    def union(self, other: Identifiers) -> Identifiers:
        """The identifiers of both."""
        return Identifiers(
            names=self.names | other.names,
            ids=self.ids | other.ids,
            uids=self.uids | other.uids,
            dates=self.dates | other.dates,
        )

    def strings(self) -> frozenset[str]:
        """Upper-cased names, IDs, UIDs and dates (``YYYYMMDD``) long enough to search for
        inside free text: a comment quoting the study UID or the exam date identifies too."""
        texts = self.names | self.ids | self.uids | {day for _, day in self.dates}
        return frozenset(s.upper() for s in texts if len(s) >= _MIN_TEXT_LEN)

    def found_in(self, text: str) -> bool:
        """Whether ``text`` contains any of the names, IDs, UIDs or dates (case-insensitive)."""
        upper = text.upper()
        return any(s in upper for s in self._searched)

    @functools.cached_property
    def _searched(self) -> frozenset[str]:
        # Computed once: the cleaner and the verifier ask for every text element.
        return self.strings()


def collect_identifiers(ds: Dataset) -> Identifiers:
    """Every identifier ``ds`` holds, nested sequences and file meta included."""
    names: set[str] = set()
    ids: set[str] = set()
    uids: set[str] = set()
    dates: set[tuple[int, str]] = set()
    for _, elem in walk(ds):
        found = values(elem) if elem.VR != "SQ" else []
        vr = effective_vr(elem)
        if vr == "PN":
            for name in found:
                names.add(name)
                names.update(part for part in name.replace("=", "^").split("^") if part)
        elif vr == "UI" and elem.keyword not in SOFTWARE_UID_KEYWORDS:
            uids.update(uid for uid in found if not is_well_known_uid(uid))
        elif vr in DATE_VRS:
            dates.update((int(elem.tag), value[:8]) for value in found if len(value) >= 8)
        if elem.keyword in _ID_KEYWORDS:
            ids.update(found)
    return Identifiers(
        names=frozenset(n.strip() for n in names if n.strip()),
        ids=frozenset(ids),
        uids=frozenset(uids),
        dates=frozenset(dates),
    )
