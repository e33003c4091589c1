"""Turning the loosely typed numbers of ``results.json`` into display strings.

``results`` is written by another process and read back from JSON, so any figure may be
missing, ``None``, ``nan`` or a string; every helper here degrades to a dash instead of
raising, because a report with one blank cell is more useful than no report.
"""

from __future__ import annotations

import math
from typing import Any

MISSING = "—"  # the figure was not recorded
UNDEFINED = "n/a"  # recorded, but undefined (nan, e.g. AUC on a single-class split)

_BYTE_UNITS = ("B", "kB", "MB", "GB", "TB")


def number(value: Any) -> float | None:
    """``value`` as a float, ``nan`` kept; ``None`` for anything that is not a number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def is_real(value: float | None) -> bool:
    """True for a finite-or-infinite number that is not ``nan`` (and not ``None``)."""
    return value is not None and not math.isnan(value)


def fixed(value: Any, digits: int = 4) -> str:
    """``0.9123`` style; dash when missing, ``n/a`` when ``nan``."""
    x = number(value)
    if x is None:
        return MISSING
    if math.isnan(x):
        return UNDEFINED
    return f"{x:.{digits}f}"


def seconds(value: Any) -> str:
    """``12.34 s``; dash when missing."""
    x = number(value)
    if not is_real(x):
        return MISSING
    return f"{x:.2f} s"


def human_bytes(value: Any) -> str:
    """Decimal (SI) units, ``1.23 MB``, matching the MB/s of the throughput column."""
    x = number(value)
    if not is_real(x):
        return MISSING
    assert x is not None
    for unit in _BYTE_UNITS:
        if abs(x) < 1000 or unit == _BYTE_UNITS[-1]:
            break
        x /= 1000
    return f"{int(x)} B" if unit == "B" else f"{x:.2f} {unit}"


def count(value: Any) -> str:
    """Integer with thousands separators; dash when missing."""
    x = number(value)
    if not is_real(x):
        return MISSING
    assert x is not None
    return f"{int(x):,}"
