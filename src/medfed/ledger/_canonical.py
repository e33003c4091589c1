"""Canonical JSON and hex helpers: the one byte string a digest or signature covers."""

from __future__ import annotations

import json
import math
from typing import Any

from medfed.ledger.errors import EntryRejectedError

_HEX = frozenset("0123456789abcdef")
_MAX_DEPTH = 32  # evidence metadata is shallow; a deep payload is a mistake, not evidence


def canonical_json(obj: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no spaces; NaN, infinities and non-JSON types refused."""
    check_json(obj)
    try:
        text = json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        return text.encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise EntryRejectedError(f"cannot encode as canonical JSON: {exc}") from None


def check_json(obj: Any, *, where: str = "payload", depth: int = 0) -> None:
    """Refuse anything that would not survive a JSON round trip unchanged.

    Only dict (string keys), list, str, int, float (finite), bool and None pass: a tuple
    would come back as a list and a byte string not at all, so the stored entry would no
    longer hash to what was signed.
    """
    if depth > _MAX_DEPTH:
        raise EntryRejectedError(f"{where} is nested deeper than {_MAX_DEPTH} levels")
    if obj is None or isinstance(obj, bool | int | str):
        return
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise EntryRejectedError(f"{where} holds a non-finite number {obj!r}")
        return
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            check_json(item, where=f"{where}[{i}]", depth=depth + 1)
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str):
                raise EntryRejectedError(f"{where} has a non-string key {key!r}")
            check_json(value, where=f"{where}.{key}", depth=depth + 1)
        return
    raise EntryRejectedError(
        f"{where} holds a {type(obj).__name__}, which is not a JSON value "
        "(use dict, list, str, int, float, bool or None)"
    )


def parse_object(data: bytes | str, what: str) -> dict[str, Any]:
    """A JSON object; ValueError naming ``what`` for anything else."""
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a JSON object")
    return value


def is_hex(value: object) -> bool:
    """A non-empty lowercase hex string of whole bytes."""
    return isinstance(value, str) and len(value) > 0 and len(value) % 2 == 0 and set(value) <= _HEX


def genesis_hash(digest_size: int) -> str:
    """The ``prev_hash`` of the first entry (and of a log's first line): all zeros."""
    return "00" * digest_size
