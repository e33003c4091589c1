"""A hospital's incoming folder built from pydicom's shipped sample images.

Every image is one of the shipped CT or MR slices, shifted to its own place (so no two are
alike), given its own patient's name, ID, dates and UIDs; label 1 images carry a bright
round lesion. Planted problems, with their exact counts: byte-for-byte copies (exact
duplicates), re-saved copies under another patient with the same pixels (near duplicates),
truncated files (corrupt) and one image with burned-in annotation.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

SAMPLES = ("CT_small.dcm", "MR_small.dcm")


@dataclass
class Planted:
    """What the folder holds: the identifiers written into it and the problems planted."""

    names: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)
    dates: set[str] = field(default_factory=set)
    uids: set[str] = field(default_factory=set)
    images: int = 0  # distinct, usable, labelled images
    patients: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    corrupt: int = 0
    burned_in: int = 0


def _sample(name: str) -> Dataset:
    return pydicom.dcmread(get_testdata_file(name, download=False))


def _pixels(base: np.ndarray, index: int, lesion: bool, rng: np.random.Generator) -> np.ndarray:
    """``base`` rolled to a place of its own, flipped every other time, with a lesion for label 1."""
    n = base.shape[0]
    shifted = np.roll(base, (7 * index + 3) % n, axis=0)
    shifted = np.roll(shifted, (11 * index) % n, axis=1)
    if index % 2:
        shifted = shifted[:, ::-1]
    out = shifted.astype(np.int32)
    # A smooth random field of its own changes the low frequencies a perceptual hash reads,
    # so no two generated images count as near duplicates.
    coarse = rng.uniform(-1.0, 1.0, (4, 4))
    field = np.kron(coarse, np.ones((n // 4, n // 4)))
    span = float(base.max()) - float(base.min())
    out += (0.6 * span * field).astype(np.int32)
    if lesion:
        y, x = np.mgrid[0:n, 0:n]
        cy, cx = rng.integers(n // 4, 3 * n // 4, 2)
        out[(y - cy) ** 2 + (x - cx) ** 2 <= (n // 6) ** 2] = int(base.max()) * 2
    return np.clip(out, np.iinfo(base.dtype).min, np.iinfo(base.dtype).max).astype(base.dtype)


def _write(ds: Dataset, pixels: np.ndarray, path: Path, patient: tuple[str, str], day: int, planted: Planted) -> None:
    name, pid = patient
    ds = ds.copy()
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    ds.PatientName, ds.PatientID = name, pid
    birth, study = f"19{50 + day % 40:02d}0{1 + day % 9}1{day % 9}", f"2023{1 + day % 12:02d}{10 + day % 18:02d}"
    ds.PatientBirthDate, ds.StudyDate, ds.SeriesDate, ds.ContentDate = birth, study, study, study
    ds.InstitutionName = "Saint Example Hospital"
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
        uid = generate_uid()
        setattr(ds, keyword, uid)
        planted.uids.add(uid)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.BurnedInAnnotation = "NO"
    planted.names.add(name)
    planted.ids.add(pid)
    planted.dates.update({birth, study})
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def build_hospital(
    root: Path, *, tag: str, patients: int, seed: int, duplicates: int = 3, near: int = 2, corrupt: int = 3
) -> Planted:
    """``patients`` patients with two images each under ``root``, labels in ``root/labels.csv``."""
    rng = np.random.default_rng(seed)
    planted = Planted(patients=patients)
    samples = {name: _sample(name) for name in SAMPLES}
    rows: list[tuple[str, str]] = []
    written: list[Path] = []
    for p in range(patients):
        label = p % 2
        patient = (f"Testperson{tag}^Patient{p:03d}", f"MRN-{tag}-{p:04d}")
        rows.append((patient[1], "pneumonia" if label else "normal"))
        sample = SAMPLES[p % 2]
        for k in range(2):
            index = 2 * p + k
            ds = samples[sample]
            pixels = _pixels(ds.pixel_array, index + 97 * seed, bool(label), rng)
            path = root / f"patient{p:03d}" / f"img{k}.dcm"
            _write(ds, pixels, path, patient, day=3 * p + seed, planted=planted)
            written.append(path)
            planted.images += 1
    for d in range(duplicates):  # the same file stored a second time
        (root / "copies").mkdir(exist_ok=True)
        shutil.copyfile(written[5 * d], root / "copies" / f"copy{d}.dcm")
        planted.exact_duplicates += 1
    for n in range(near):  # the same pixels filed again under a new patient (a re-export)
        source = pydicom.dcmread(written[7 * n + 1])
        patient = (f"Testperson{tag}^Reexport{n}", f"MRN-{tag}-R{n}")
        rows.append((patient[1], "normal"))
        _write(source, source.pixel_array, root / "reexports" / f"r{n}.dcm", patient, day=50 + n, planted=planted)
        planted.near_duplicates += 1
    for c in range(corrupt):  # cut off in the middle of the pixel data
        data = written[3 * c + 2].read_bytes()
        (root / "broken").mkdir(exist_ok=True)
        (root / "broken" / f"cut{c}.dcm").write_bytes(data[: len(data) - len(data) // 3])
        planted.corrupt += 1
    ds = samples["CT_small.dcm"]
    burned = root / "burned" / "annotated.dcm"
    _write(ds, _pixels(ds.pixel_array, 999, False, rng), burned, (f"Testperson{tag}^Burned", f"MRN-{tag}-B"), 77, planted)
    marked = pydicom.dcmread(burned)
    marked.BurnedInAnnotation = "YES"
    marked.save_as(burned)
    planted.burned_in = 1
    rows.append((f"MRN-{tag}-B", "normal"))
    with (root / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["patient", "diagnosis"])
        writer.writerows(rows)
    return planted
