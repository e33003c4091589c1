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

_WORD_TYPES = {8: np.uint8, 16: np.uint16, 32: np.uint32}
_SIGNED = {8: np.int8, 16: np.int16, 32: np.int32}


def clear_unused_bits(ds: Dataset) -> bool:
    """Clear the bits of ``ds``'s native Pixel Data outside Bits Stored, in place.

    Returns whether any such bit was set (and so was cleared). Datasets without native Pixel
    Data, or whose bit layout is not one this can read, are left as they are.
    """
    layout = _layout(ds)
    if layout is None:
        return False
    allocated, stored, high_bit, signed, little = layout
    word = np.dtype(_WORD_TYPES[allocated]).newbyteorder("<" if little else ">")
    raw = ds.PixelData
    whole = len(raw) // word.itemsize * word.itemsize  # an odd trailing pad byte stays
    words = np.frombuffer(raw, dtype=word, count=whole // word.itemsize)
    if not word.isnative:
        words = words.astype(word.newbyteorder("="))  # big-endian data on a little-endian host
    low = high_bit - stored + 1
    if not _any_unused_bit_set(words, allocated, high_bit, low, signed):
        return False  # the usual case, found in one or two passes over the pixels
    cleared = _cleared(words, allocated, high_bit, low, signed)
    ds.PixelData = cleared.astype(word).tobytes() + bytes(raw[whole:])
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


def _cleared(
    words: np.ndarray, allocated: int, high_bit: int, low: int, signed: bool
) -> np.ndarray:
    unsigned = words.dtype.type
    below = unsigned((1 << low) - 1)
    if signed:
        # Shift the sign bit to the top, then back arithmetically: the bits above HighBit
        # become copies of it (two's complement in the full word).
        top = allocated - 1 - high_bit
        shifted = np.left_shift(words, unsigned(top)).view(_SIGNED[allocated])
        extended = np.right_shift(shifted, top).view(unsigned)
        return extended & ~below
    kept = unsigned(((1 << (high_bit + 1)) - 1) & ~((1 << low) - 1))
    return words & kept


def _layout(ds: Dataset) -> tuple[int, int, int, bool, bool] | None:
    """(BitsAllocated, BitsStored, HighBit, signed, little endian) when there are unused bits
    in native Pixel Data, else ``None``."""
    if "PixelData" not in ds:
        return None
    try:
        allocated = int(ds.BitsAllocated)
        stored = int(ds.BitsStored)
        high_bit = int(ds.get("HighBit", stored - 1))
        signed = int(ds.get("PixelRepresentation", 0)) == 1
    except (AttributeError, TypeError, ValueError):
        return None
    if allocated not in _WORD_TYPES or not 0 < stored <= allocated:
        return None
    if stored == allocated or not stored - 1 <= high_bit < allocated:
        return None  # every bit is used, or a HighBit that places the stored bits nowhere
    meta = getattr(ds, "file_meta", None)
    syntax = None if meta is None else meta.get("TransferSyntaxUID")
    if syntax is None:
        little = ds.original_encoding[1] is not False
    elif syntax.is_encapsulated:
        return None
    else:
        little = syntax.is_little_endian
    return allocated, stored, high_bit, signed, little
