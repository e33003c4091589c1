"""The errors the edge SDK raises on purpose (it stands alone: no framework import)."""

from __future__ import annotations


class BundleError(Exception):
    """A bundle cannot be trusted or used: unreadable, tampered, wrongly signed, or its
    signer does not chain to the trusted CA. The message names the member or check that failed."""


class ImageError(ValueError):
    """An input image cannot be read: the message says which format was expected and what was wrong."""


class ImageTooLargeError(ImageError):
    """An input image declares more pixels (or inflates to more bytes) than the SDK decodes."""
