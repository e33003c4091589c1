"""A copy of a dataset that de-identification may change without touching the original.

``copy.deepcopy`` rebuilds every element object attribute by attribute, which costs more than
the whole de-identification of a CT slice. De-identification only ever *replaces* element
values and adds or deletes elements, so a copy needs fresh containers (datasets, their element
maps, sequences, element objects) but may share the values themselves (strings, numbers,
pixel bytes), and elements not yet decoded (pydicom's immutable raw elements) as they are.
"""

from __future__ import annotations

import copy
from typing import Any

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence


def copy_dataset(ds: Dataset) -> Dataset:
    """A copy of ``ds`` (file meta and nested sequence items included) safe to modify."""
    out = copy.copy(ds)  # same class and attributes (preamble, encoding, decoded-pixel cache)
    # The element map is pydicom's internal store; a new one detaches additions and deletions.
    out._dict = {tag: _copy_element(elem) for tag, elem in ds._dict.items()}
    if "_private_blocks" in ds.__dict__:
        out._private_blocks = {}
    meta = ds.__dict__.get("file_meta")
    if meta is not None:
        out.file_meta = copy_dataset(meta)  # type: ignore[assignment]  # same class as meta
    return out


def _copy_element(elem: Any) -> Any:
    if isinstance(elem, RawDataElement):
        return elem  # a NamedTuple: immutable, decoded into a new element on first access
    if not isinstance(elem, DataElement):
        return copy.deepcopy(elem)
    if elem.VR == "SQ":
        items = Sequence([copy_dataset(item) for item in (elem.value or [])])
        return DataElement(elem.tag, "SQ", items, is_undefined_length=elem.is_undefined_length)
    value = elem.value
    if isinstance(value, list):
        value = list(value)
    new = DataElement(
        elem.tag,
        elem.VR,
        value,
        is_undefined_length=elem.is_undefined_length,
        already_converted=True,
    )
    new.private_creator = elem.private_creator
    return new
