"""Unambiguous byte strings to sign or MAC, and strict base64 for JSON fields."""

from __future__ import annotations

import base64
import binascii

from medfed.errors import ProtocolError


def framed(*parts: bytes) -> bytes:
    """Each part prefixed with its 4-byte big-endian length.

    Plain concatenation would let ("ab", "c") and ("a", "bc") sign the same bytes.
    """
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: object, field: str) -> bytes:
    """Decode standard base64, refusing anything else (no silent skipping of junk)."""
    if not isinstance(text, str):
        raise ProtocolError(f"field {field!r} must be a base64 string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ProtocolError(f"field {field!r} is not valid base64") from None
