"""From what ingestion reads (``Item``) to what preparation works on (``ImageItem``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medfed.data.ingest import Item, Skipped, SkipReason
from medfed.data.medmnist import DatasetInfo
from medfed.data.prepare import ImageItem, pixel_hash
from medfed.data.register.redact import Redactor
from medfed.errors import DataError

# Files that are images but cannot be used count as corrupt in the cleaning report; files
# that are not images at all (a README, a spreadsheet) are only listed in the record.
CORRUPT_SKIPS = frozenset(
    {
        SkipReason.UNREADABLE,
        SkipReason.NO_PIXELS,
        SkipReason.UNSUPPORTED_COMPRESSION,
        SkipReason.INCONSISTENT_SPACING,
    }
)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601 grey from RGB


def class_index(label: str, info: DatasetInfo) -> int:
    """The class index of ``label``: an index ``0..n-1`` or one of the task's class names."""
    text = label.strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        if 0 <= index < info.n_classes:
            return index
    lowered = [name.lower() for name in info.labels]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    raise DataError(
        f"label {label!r} is not a class of {info.flag}: use 0..{info.n_classes - 1} "
        f"or one of {', '.join(repr(n) for n in info.labels)}"
    )


def grey(pixels: np.ndarray) -> np.ndarray:
    """Colour images (H, W, 3|4) as grey (H, W), colour frames (F, H, W, 3|4) as a grey
    volume (F, H, W); anything else unchanged."""
    colour_frames = pixels.ndim == 4 and pixels.shape[-1] in (3, 4)
    if colour_frames or (pixels.ndim == 3 and pixels.shape[-1] in (3, 4) and pixels.shape[0] > 4):
        return np.tensordot(pixels[..., :3].astype(np.float32), _LUMA, axes=([-1], [0]))
    return pixels


def to_image_item(
    item: Item, info: DatasetInfo, redactor: Redactor, *, one_of_many: bool = False
) -> ImageItem:
    """The preparation view of ``item``: grey pixels, spacing (1 mm when unknown), class index.

    The content hash is that of the source file (of its slices, for a volume), so the same
    file stored twice is an exact duplicate whatever its name; for an image that is
    ``one_of_many`` in its file (a MedMNIST ``.npz``) it is the hash of its pixels.
    """
    pixels = grey(item.pixels)
    spacing = item.spacing if item.spacing and len(item.spacing) == pixels.ndim else None
    return ImageItem(
        item_id=redactor.name(item.source, item.sha256),
        pixels=pixels,
        spacing=spacing or (1.0,) * pixels.ndim,
        modality=item.modality,
        patient=item.patient_id,
        label=None if item.label is None else class_index(item.label, info),
        content_hash=pixel_hash(item.pixels) if one_of_many else item.sha256,
    )


def corrupt_items(
    skipped: Sequence[Skipped], checksums: dict[str, str], redactor: Redactor
) -> list[ImageItem]:
    """Image files that could not be decoded, as pixel-less items cleaning counts as corrupt."""
    out = []
    for skip in skipped:
        if skip.reason not in CORRUPT_SKIPS:
            continue
        sha256 = checksums.get(skip.path, "")
        out.append(
            ImageItem(
                item_id=redactor.name(skip.path, sha256 or "0" * 12),
                pixels=None,
                spacing=(),
                modality="",
                patient="",
                label=None,
                content_hash=sha256,
            )
        )
    return out
