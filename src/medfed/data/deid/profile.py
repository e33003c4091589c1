"""Applying the Basic Application Level Confidentiality Profile to one DICOM dataset (5.2c, 5.6a).

``deidentify`` never changes its input: it returns a de-identified copy, the patient's
study-local pseudonym, the identifiers the source held (for the verifier) and whether the image
must be excluded because text is burned into its pixels.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from medfed.data.deid._copy import copy_dataset
from medfed.data.deid._walk import (
    TEXT_VRS,
    TIME_VRS,
    effective_vr,
    is_known_public,
    is_well_known_uid,
    values,
)
from medfed.data.deid.actions import DATE_FALLBACK, META_PRIVATE_TAGS, Action, action_for
from medfed.data.deid.dates import check_tm, shift_da, shift_dt
from medfed.data.deid.identifiers import Identifiers, collect_identifiers
from medfed.data.deid.keys import DeidKey
from medfed.data.deid.pixels import clear_unused_bits
from medfed.errors import DataError

PATIENT_ID_TAG = 0x00100020
# File meta elements that name the sending site rather than describe the file.
# Source / sending / receiving AE titles, and the private payload of the header.
_META_REMOVED = (0x00020016, 0x00020017, 0x00020018, *sorted(META_PRIVATE_TAGS))
# DCM codes of the profile and of the date option (PS3.16 CID 7050).
_PROFILE_CODE = ("113100", "Basic Application Confidentiality Profile")
_DATES_CODE = ("113107", "Retain Longitudinal Temporal Information Modified Dates Option")


class BurnedIn(enum.Enum):
    """What ``BurnedInAnnotation`` says about text in the pixels."""

    YES = "YES"
    NO = "NO"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class DeidOptions:
    """How to de-identify: the per-dataset key and whether dates shift or go.

    ``shift_dates``: apply the *Retain Longitudinal Temporal Information with Modified Dates*
    option: every date of a patient moves back by the same 1..``max_shift_days`` days (intervals
    between a patient's studies survive); otherwise dates are removed as the profile says.
    """

    key: DeidKey
    shift_dates: bool = True
    max_shift_days: int = 3650


@dataclass(frozen=True)
class DeidResult:
    """One de-identified dataset and what the site needs to know about it."""

    dataset: Dataset
    pseudonym: str
    originals: Identifiers
    burned_in: BurnedIn
    date_offset_days: int | None
    # Keywords of the date and time elements whose value could not be shifted (malformed, or
    # out of range) and was removed or emptied instead, as the profile does without the option.
    unshiftable_dates: tuple[str, ...] = ()
    # Whether Pixel Data bits outside Bits Stored were set (legacy overlays) and were cleared.
    cleared_unused_bits: bool = False

    @property
    def excluded(self) -> bool:
        """Whether the image must not be used: its pixels carry burned-in text."""
        return self.burned_in is BurnedIn.YES


def patient_key(ds: Dataset) -> str:
    """The value the pseudonym and date offset derive from: the PatientID.

    Without a PatientID each study stands for its own patient (keyed by StudyInstanceUID), so
    two anonymous patients are never merged into one.
    """
    patient_id = str(ds.get("PatientID", "") or "").strip()
    if patient_id:
        return patient_id
    study = str(ds.get("StudyInstanceUID", "") or "").strip()
    return f"study:{study}"


def deidentify(ds: Dataset, options: DeidOptions) -> DeidResult:
    """A de-identified copy of ``ds``.

    A date that cannot be shifted (malformed, or too early to move back) is removed or emptied,
    as the profile does without the date option, and named in ``unshiftable_dates``; bits of
    native Pixel Data outside Bits Stored (where legacy overlays were drawn) are cleared.
    """
    # Collecting first decodes every element once; the copy then shares the decoded values.
    originals = collect_identifiers(ds)
    out = copy_dataset(ds)
    key = patient_key(ds)
    pseudonym = options.key.pseudonym(key)
    offset = (
        options.key.date_offset_days(key, options.max_shift_days) if options.shift_dates else None
    )
    burned_in = _burned_in(ds)

    out.remove_private_tags()  # recursive: nested sequence items lose theirs too
    cleaner = _Cleaner(options.key, originals, offset)
    cleaner.clean(out)
    meta = getattr(out, "file_meta", None)
    if meta is not None:
        for tag in _META_REMOVED:
            if tag in meta:
                del meta[tag]
        if "MediaStorageSOPInstanceUID" in meta:
            meta.MediaStorageSOPInstanceUID = options.key.uid(str(meta.MediaStorageSOPInstanceUID))
    out.PatientID = pseudonym  # "Z" permits a dummy value; the pseudonym keeps splits patient-level
    out.PatientName = ""
    _mark(out, shifted=offset is not None)
    cleared = clear_unused_bits(out)
    return DeidResult(
        out, pseudonym, originals, burned_in, offset,
        unshiftable_dates=tuple(cleaner.unshiftable), cleared_unused_bits=cleared,
    )


def _burned_in(ds: Dataset) -> BurnedIn:
    value = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    return BurnedIn(value) if value in ("YES", "NO") else BurnedIn.UNKNOWN


def _mark(ds: Dataset, *, shifted: bool) -> None:
    ds.PatientIdentityRemoved = "YES"
    # LO holds at most 64 characters.
    ds.DeidentificationMethod = "PS3.15 E.1 Basic Profile" + ("; dates shifted" if shifted else "")
    codes = [_PROFILE_CODE] + ([_DATES_CODE] if shifted else [])
    items = []
    for value, meaning in codes:
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(items)
    ds.LongitudinalTemporalInformationModified = "MODIFIED" if shifted else "REMOVED"


@dataclass(frozen=True)
class _Cleaner:
    key: DeidKey
    originals: Identifiers
    offset: int | None
    unshiftable: list[str] = field(default_factory=list)

    def clean(self, ds: Dataset) -> None:
        for tag in list(ds.keys()):
            elem = ds[tag]
            vr = effective_vr(elem)  # a date written with another VR is a date all the same
            action = action_for(int(tag)) or self._action_by_vr(elem, vr)
            if action is Action.CLEAN:
                action = self._date_action(tag, vr)
            if action is Action.CLEAN and not self._shifted(elem, vr):
                # One bad date must not cost the image: the element goes as the profile's own
                # code says (no original date can survive a removal).
                self.unshiftable.append(elem.keyword or str(elem.tag))
                action = DATE_FALLBACK.get(int(tag), Action.REMOVE)
            self._apply(ds, tag, elem, action)

    def _action_by_vr(self, elem: DataElement, vr: str) -> Action:
        # Attributes the table does not name, judged by what their VR can hold.
        if not is_known_public(elem.tag):
            return Action.REMOVE
        if vr == "PN":
            return Action.ZERO
        if vr == "UI":
            return Action.UID
        if vr in TIME_VRS:  # times too: a time of day next to a shifted date still identifies
            return Action.CLEAN
        if vr in TEXT_VRS and any(self.originals.found_in(v) for v in values(elem)):
            return Action.ZERO
        return Action.KEEP

    def _date_action(self, tag: BaseTag, vr: str) -> Action:
        if self.offset is None or vr not in TIME_VRS:
            # Without the option, or a date whose VR does not say how to read it: the profile's
            # own code.
            return DATE_FALLBACK.get(int(tag), Action.REMOVE)
        return Action.CLEAN  # dates shift; times stay when they are valid times

    def _apply(self, ds: Dataset, tag: BaseTag, elem: DataElement, action: Action) -> None:
        if action is Action.REMOVE:
            del ds[tag]
        elif action in (Action.ZERO, Action.DUMMY):
            # No listed attribute needs a dummy other than empty; emptying is the safe dummy.
            elem.value = Sequence() if elem.VR == "SQ" else None
        elif action is Action.UID:
            new = [uid if is_well_known_uid(uid) else self.key.uid(uid) for uid in values(elem)]
            elem.value = new if len(new) > 1 else (new[0] if new else None)
        elif elem.VR == "SQ" and elem.value is not None:
            for item in elem.value:
                self.clean(item)

    def _shifted(self, elem: DataElement, vr: str) -> bool:
        """Shift the element's dates (check its times) in place; ``False`` (element unchanged)
        if one cannot be: the caller removes it, since a malformed value may hold anything."""
        assert self.offset is not None  # _date_action only returns CLEAN with an offset
        offset = self.offset

        def shift(value: str) -> str:
            if vr == "DA":
                return shift_da(value, offset)
            return shift_dt(value, offset) if vr == "DT" else check_tm(value)

        try:
            new = [shift(v) for v in values(elem)]
        except DataError:
            return False
        elem.value = new if len(new) > 1 else (new[0] if new else None)
        return True
