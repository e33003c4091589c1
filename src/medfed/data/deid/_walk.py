"""Walking every element of a dataset, nested sequences and file meta included."""

from __future__ import annotations

from collections.abc import Iterator

from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag
from pydicom.uid import UID_dictionary

TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "SH", "ST", "UC", "UT"})
DATE_VRS = frozenset({"DA", "DT"})
TIME_VRS = DATE_VRS | {"TM"}
# Bulk binary values (pixels, waveforms, lookup tables): no text identifier can be read out of
# them, and turning megabytes into a string would dominate the time per file.
BULK_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "OB or OW", "US or OW"})
# Unknown-VR values longer than this are bulk data too; shorter ones may be text and are checked.
_UN_TEXT_LIMIT = 1024
# UIDs that name software, not a patient, a study or a device instance.
SOFTWARE_UID_KEYWORDS = frozenset({"ImplementationClassUID"})


def walk(ds: Dataset, prefix: str = "") -> Iterator[tuple[str, DataElement]]:
    """Yield ``(path, element)`` for every element, depth first; sequences before their items.

    The path names each level by keyword (or tag) and item index, e.g.
    ``OtherPatientIDsSequence[1].PatientID``, so a finding can say where it is.
    """
    meta = getattr(ds, "file_meta", None)
    if meta is not None and not prefix:
        yield from walk(meta, "file_meta.")
    for elem in ds:
        name = elem.keyword or f"({elem.tag.group:04X},{elem.tag.element:04X})"
        path = prefix + name
        yield path, elem
        if elem.VR == "SQ" and elem.value is not None:
            for index, item in enumerate(elem.value):
                yield from walk(item, f"{path}[{index}].")


def effective_vr(elem: DataElement) -> str:
    """The VR the DICOM dictionary gives the element's tag, else the one the file declares.

    An explicit VR is whatever the writer put there: a date written as SH is a date all the
    same, and is handled (shifted, removed, checked) as one.
    """
    if elem.tag.is_private:
        return str(elem.VR)
    try:
        vr = dictionary_VR(elem.tag)
    except KeyError:
        return str(elem.VR)
    return str(elem.VR) if " or " in vr else vr  # ambiguous ("US or SS"): the file's choice


def values(elem: DataElement) -> list[str]:
    """The element's value(s) as stripped strings (an empty list when empty)."""
    if elem.VR in BULK_VRS:
        return []
    value = elem.value
    if value is None or value == "":
        return []
    if isinstance(value, bytes | bytearray):
        if len(value) > _UN_TEXT_LIMIT:
            return []
        value = bytes(value).decode("latin-1")
    items = list(value) if elem.VM > 1 else [value]
    return [text for text in (str(item).strip() for item in items) if text]


def is_well_known_uid(uid: str) -> bool:
    """Whether ``uid`` is a UID defined by DICOM itself (SOP class, transfer syntax, ...)."""
    return uid in UID_dictionary


def is_known_public(tag: BaseTag) -> bool:
    """Whether ``tag`` is a public element the DICOM dictionary defines (or a group length).

    A public tag the dictionary does not know reads as VR UN or an arbitrary text VR: what it
    holds cannot be told, so the profile cannot vouch for it.
    """
    return tag.is_private or tag.element == 0 or bool(keyword_for_tag(tag))
