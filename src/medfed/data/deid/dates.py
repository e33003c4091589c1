"""Shifting DICOM DA and DT values by a whole number of days, and checking DA, DT and TM values.

A value that is not strictly what its VR allows may hold anything (a name, another date), so
it is refused (:class:`DataError`) and the caller removes the element rather than keep a tail
or a time it cannot vouch for.
"""

from __future__ import annotations

import datetime as dt
import re

from medfed.errors import DataError

_DA_FORMAT = "%Y%m%d"
# HH[MM[SS[.F{1,6}]]] (PS3.5 6.2, TM; 60 is a leap second).
_TIME = r"(?:[01]\d|2[0-3])(?:[0-5]\d(?:(?:[0-5]\d|60)(?:\.\d{1,6})?)?)?"
_OFFSET = r"[+-]\d{4}"
_TM = re.compile(_TIME)
# What follows the YYYYMMDD of a DT: [HHMMSS[.F]][&ZZXX].
_DT_TAIL = re.compile(rf"(?P<time>(?:{_TIME})?)(?:{_OFFSET})?")
_DT = re.compile(rf"\d{{4}}(?:\d\d(?:\d\d(?:{_TIME})?)?)?(?:{_OFFSET})?")
_DA = re.compile(r"\d{8}")


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
    tail = _DT_TAIL.fullmatch(text[8:])
    if tail is None:  # not echoed: the tail may hold a name or another date
        raise DataError(f"not a DICOM date-time (YYYYMMDDHHMMSS.FFFFFF&ZZXX, {len(text)} characters found)")
    return shift_da(text[:8], days) + tail["time"]


def check_tm(value: str) -> str:
    """``value`` (TM, ``HH[MM[SS[.FFFFFF]]]``, or a range ``A-B``) stripped; :class:`DataError`
    if it is anything else."""
    text = value.strip()
    if not all(_TM.fullmatch(part) for part in text.split("-", 1) if part) or text == "-":
        raise DataError(f"not a DICOM time (HHMMSS.FFFFFF, {len(text)} characters found)")
    return text


def is_valid(vr: str, value: str) -> bool:
    """Whether ``value`` is strictly a DA, DT or TM value (``vr``) as PS3.5 defines it."""
    text = value.strip()
    if vr == "TM":
        try:
            check_tm(text)
        except DataError:
            return False
        return True
    if vr == "DA":
        return all(_DA.fullmatch(part) for part in text.split("-", 1) if part) and text != "-"
    return bool(_DT.fullmatch(text))
