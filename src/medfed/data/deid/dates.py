"""Shifting DICOM DA and DT values by a whole number of days."""

from __future__ import annotations

import datetime as dt
import re

from medfed.errors import DataError

_DA_FORMAT = "%Y%m%d"


def shift_da(value: str, days: int) -> str:
    """``value`` (DA, ``YYYYMMDD``) moved ``days`` into the past; :class:`DataError` if it is
    malformed or would move before year 1.

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
        # The value is not echoed: a date field may hold anything, a name included.
        raise DataError(f"not a DICOM date (YYYYMMDD, {len(text)} characters found)") from None
    try:
        moved = day - dt.timedelta(days=days)
    except OverflowError:
        raise DataError(f"the date is too early to move {days} days back") from None
    # strftime drops the leading zeros of a year before 1000 on some platforms: a DA has 8 digits.
    return f"{moved.year:04d}{moved.month:02d}{moved.day:02d}"


def shift_dt(value: str, days: int) -> str:
    """``value`` (DT, ``YYYYMMDD[HHMMSS[.F]][&ZZXX]``) with its date part moved ``days`` back.

    Only full dates are shifted; a DT with just a year or year-month is blanked, since it
    cannot be shifted by days without inventing precision. The UTC offset goes, as the
    profile removes TimezoneOffsetFromUTC: it tells where the site is.
    """
    text = value.strip()
    if len(text) < 8:
        return ""
    time = re.split(r"[+-]", text[8:], maxsplit=1)[0]
    return shift_da(text[:8], days) + time
