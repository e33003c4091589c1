"""Shifting DICOM DA and DT values by a whole number of days."""

from __future__ import annotations

import datetime as dt

from medfed.errors import DataError

_DA_FORMAT = "%Y%m%d"


def shift_da(value: str, days: int) -> str:
    """``value`` (DA, ``YYYYMMDD``) moved ``days`` into the past; :class:`DataError` if malformed.

    A DA may hold a range (``A-B``); each end is shifted.
    """
    text = value.strip()
    if not text:
        return text
    if "-" in text:
        return "-".join(shift_da(part, days) if part else "" for part in text.split("-"))
    try:
        day = dt.datetime.strptime(text[:8], _DA_FORMAT).date()
    except ValueError:
        raise DataError(f"not a DICOM date: {text!r}") from None
    return (day - dt.timedelta(days=days)).strftime(_DA_FORMAT)


def shift_dt(value: str, days: int) -> str:
    """``value`` (DT, ``YYYYMMDD[HHMMSS[.F]][&ZZXX]``) with its date part moved ``days`` back.

    Only full dates are shifted; a DT with just a year or year-month is blanked, since it
    cannot be shifted by days without inventing precision.
    """
    text = value.strip()
    if len(text) < 8:
        return ""
    return shift_da(text[:8], days) + text[8:]
