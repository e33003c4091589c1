"""Clearing the Pixel Data bits that hold no pixel value.

When Bits Stored is less than Bits Allocated, each pixel word has bits outside
``HighBit - BitsStored + 1 .. HighBit``. Legacy equipment drew overlay planes there (60xx
Overlay Bit Position pointing into the pixel data): annotations, sometimes the patient's name.
A viewer that honours the old overlay module, or one that reads the whole word, shows them.
Those bits are cleared: set to zero, or to the sign bit for signed pixels, so what is left
is a function of the stored value alone and each stored value is unchanged.

Only native (uncompressed) Pixel Data is rewritten: compressed Pixel Data would have to be
re-encoded. Decoding drops the unused bits (pydicom corrects them), so images registered from
compressed files are clean too; a compressed file copied by ``deidentify_folder`` keeps what
its codestream holds.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset

from medfed.errors import DataError

_WORD_TYPES = {8: np.uint8, 16: np.uint16, 32: np.uint32}
_SIGNED = {8: np.int8, 16: np.int16, 32: np.int32}


def clear_unused_bits(ds: Dataset) -> bool:
    """Clear the bits of ``ds``'s native Pixel Data outside Bits Stored, in place.

    Returns whether any such bit was set (and so was cleared). Datasets without native Pixel
    Data, or whose bit layout is not one this can read, are left as they are;
    :class:`DataError` for a layout that cannot be read safely (a transfer syntax DICOM does
    not define, a Pixel Representation other than 0 or 1). Peak memory is about twice the
    Pixel Data: one writable copy, cleared in place.
    """
    raw = ds.get("PixelData")
    if not isinstance(raw, bytes | bytearray) or not raw:
        return False  # absent, zero-length (read back as None) or not yet loaded
    layout = _layout(ds)
    if layout is None:
        return False
    allocated, stored, high_bit, signed, little = layout
    native = np.dtype(_WORD_TYPES[allocated])
    swapped = not native.newbyteorder("<" if little else ">").isnative
    count = len(raw) // native.itemsize  # an odd trailing pad byte stays as it is
    low = high_bit - stored + 1
    buffer: bytearray | None = None
    if swapped:  # big-endian data on a little-endian host: swap in a copy, swap back after
        buffer = bytearray(raw)
        words = np.frombuffer(buffer, dtype=native, count=count)
        words.byteswap(inplace=True)
    else:
        words = np.frombuffer(raw, dtype=native, count=count)
    if not _any_unused_bit_set(words, allocated, high_bit, low, signed):
        return False  # the usual case, found in one or two passes over the pixels
    if buffer is None:
        buffer = bytearray(raw)
        words = np.frombuffer(buffer, dtype=native, count=count)
    _clear(words, allocated, high_bit, low, signed)
    if swapped:
        words.byteswap(inplace=True)
    ds.PixelData = bytes(buffer)
    return True


def _any_unused_bit_set(
    words: np.ndarray, allocated: int, high_bit: int, low: int, signed: bool
) -> bool:
    if not words.size:
        return False
    unsigned = words.dtype.type
    if low and (words & unsigned((1 << low) - 1)).any():
        return True
    # Range checks (one reduction, no temporary array): the bits above HighBit are zero when
    # an unsigned word is below 2**(HighBit+1), and copies of the sign bit when a signed one
    # lies in [-2**HighBit, 2**HighBit).
    if not signed:
        return int(words.max()) >> (high_bit + 1) != 0
    values = words.view(_SIGNED[allocated])
    return int(values.min()) < -(1 << high_bit) or int(values.max()) >= 1 << high_bit


def _clear(words: np.ndarray, allocated: int, high_bit: int, low: int, signed: bool) -> None:
    """Clear the unused bits of native-order ``words`` in place (no temporary array)."""
    unsigned = words.dtype.type
    below = unsigned((1 << low) - 1)
    if signed:
        # Shift the sign bit to the top, then back arithmetically: the bits above HighBit
        # become copies of it (two's complement in the full word).
        top = allocated - 1 - high_bit
        np.left_shift(words, unsigned(top), out=words)
        values = words.view(_SIGNED[allocated])
        np.right_shift(values, values.dtype.type(top), out=values)
        np.bitwise_and(words, ~below, out=words)
        return
    kept = unsigned(((1 << (high_bit + 1)) - 1) & ~((1 << low) - 1))
    np.bitwise_and(words, kept, out=words)


def _layout(ds: Dataset) -> tuple[int, int, int, bool, bool] | None:
    """(BitsAllocated, BitsStored, HighBit, signed, little endian) when there are unused bits
    in native Pixel Data, else ``None``; :class:`DataError` when they cannot be told safely."""
    try:
        allocated = int(ds.BitsAllocated)
        stored = int(ds.BitsStored)
    except (AttributeError, TypeError, ValueError):
        return None
    if allocated not in _WORD_TYPES or not 0 < stored < allocated:
        return None  # a layout no decoder reads, or every bit is used
    high_bit = _high_bit(ds, stored, allocated)
    signed = _signed(ds)
    meta = getattr(ds, "file_meta", None)
    syntax = None if meta is None else meta.get("TransferSyntaxUID")
    if syntax is None:
        return allocated, stored, high_bit, signed, ds.original_encoding[1] is not False
    try:
        encapsulated, little = syntax.is_encapsulated, syntax.is_little_endian
    except ValueError:  # private, unknown or empty: its byte order cannot be told
        raise DataError(
            "the transfer syntax is not one DICOM defines, so the unused Pixel Data bits "
            "cannot be cleared"
        ) from None
    return None if encapsulated else (allocated, stored, high_bit, signed, little)


def _high_bit(ds: Dataset, stored: int, allocated: int) -> int:
    """HighBit, or BitsStored - 1 when it is absent, empty or places the stored bits outside
    the word: what pydicom's decoder assumes, so what is cleared is what a viewer ignores."""
    try:
        high_bit = int(ds.get("HighBit"))
    except (TypeError, ValueError):
        return stored - 1
    return high_bit if stored - 1 <= high_bit < allocated else stored - 1


def _signed(ds: Dataset) -> bool:
    value = ds.get("PixelRepresentation")
    if value is None or value == "":
        return False  # empty reads as unsigned, as decoders do
    try:
        representation = int(value)
    except (TypeError, ValueError):
        representation = -1
    if representation not in (0, 1):
        raise DataError("Pixel Representation is neither 0 (unsigned) nor 1 (signed)")
    return representation == 1
