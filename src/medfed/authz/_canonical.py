"""Canonical JSON: the one byte string a signature covers, the same in every process."""

from __future__ import annotations

import json
import math
from typing import Any

from medfed.errors import ConfigError


def canonical_json(obj: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no spaces; NaN and infinities are refused."""
    try:
        text = json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cannot encode as canonical JSON: {exc}") from None
    return text.encode("utf-8")


def parse_json(data: bytes | str, what: str) -> dict[str, Any]:
    """A JSON object; :class:`ConfigError` naming ``what`` for anything else."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{what} must be a JSON object")
    return value


def check_text(**fields: str) -> None:
    """Every named field is a non-empty string (an empty id would match nothing, or everything)."""
    for name, value in fields.items():
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{name} must be a non-empty string, not {value!r}")


def check_time(name: str, value: float) -> float:
    """A finite Unix time in seconds, as a float (so its JSON form never changes)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number of seconds, not {value!r}")
    return float(value)
