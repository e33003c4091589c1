"""Reading NIfTI volumes, PNG/JPEG images and MedMNIST ``.npz`` files into items."""

from __future__ import annotations

import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from PIL import Image, UnidentifiedImageError

from medfed.data.ingest.record import Item, Skipped, SkipReason

NIFTI_SUFFIXES = (".nii", ".nii.gz")
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")
NPZ_SPLITS = ("train", "val", "test")


def stem(path: Path) -> str:
    """The file name without its image suffix (``.nii.gz`` counts as one suffix)."""
    name = path.name
    for suffix in (*NIFTI_SUFFIXES, *PICTURE_SUFFIXES, ".npz"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def read_nifti(path: Path, source: str, sha256: str, modality: str) -> Item | Skipped:
    """A NIfTI volume with its voxel spacing (mm) from the header."""
    try:
        image = nib.load(path)
        if not isinstance(image, nib.Nifti1Image | nib.Nifti2Image):
            return Skipped(source, SkipReason.UNREADABLE, f"not NIfTI: {type(image).__name__}")
        pixels = np.asarray(image.dataobj)
        zooms = image.header.get_zooms()[: pixels.ndim]
    except (ImageFileError, OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        return Skipped(source, SkipReason.UNREADABLE, str(exc))
    spacing = tuple(float(z) for z in zooms)
    return Item(pixels, spacing, modality, stem(path), source, sha256)


def read_picture(path: Path, source: str, sha256: str, modality: str) -> Item | Skipped:
    """A PNG or JPEG image; no spacing (the format does not carry one reliably)."""
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        return Skipped(source, SkipReason.UNREADABLE, str(exc))
    return Item(pixels, None, modality, stem(path), source, sha256)


def read_npz(path: Path, source: str, sha256: str, modality: str) -> list[Item] | Skipped:
    """Every image of a MedMNIST ``.npz`` (``<split>_images`` / ``<split>_labels``).

    Each image is its own patient (``<file>:<split>:<index>``): MedMNIST keeps no patient ids.
    """
    try:
        # allow_pickle=False: a data file must never be able to run code.
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        return Skipped(source, SkipReason.UNREADABLE, str(exc))
    items: list[Item] = []
    for split in NPZ_SPLITS:
        images = arrays.get(f"{split}_images")
        if images is None:
            continue
        labels = arrays.get(f"{split}_labels")
        for index, pixels in enumerate(images):
            label = None
            if labels is not None and index < len(labels):
                label = ",".join(str(v) for v in np.ravel(labels[index]))
            patient = f"{stem(path)}:{split}:{index}"
            items.append(Item(pixels, None, modality, patient, source, sha256, label))
    if not items:
        return Skipped(source, SkipReason.NO_PIXELS, "no <split>_images arrays")
    return items
