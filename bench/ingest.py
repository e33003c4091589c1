"""Data preparation throughput at a hospital: 512×512 int16 CT slices to 128×128 uint8.

Set-up (not timed): N CT-like slices (a water-filled body with bone and lung in air, HU,
noise) are generated in memory and, when ``medfed.data.ingest`` is installed, written as
DICOM files (with patient name, id and dates) to a temporary folder.

Timed, in one run:
  pipeline      per file: read (pydicom) → de-identify and verify (``medfed.data.deid``)
                → modality LUT to HU → ``standardise`` (window 40/400 HU, 128×128 uint8,
                anti-aliased resize), spread over --workers processes. Without the ingest
                package the files are skipped and in-memory arrays go straight to
                standardisation; ``source`` in the output says which was measured.
                Timed twice: box-average shrinking (the headline) and the default Gaussian +
                spline resize (``images_per_s_spline``).
  standardise   the same standardisation alone, in memory, one process.
  clean         ``clean`` (corrupt/spec/duplicate/near-duplicate checks, near duplicates
                within a patient) on the raw slices, one process.
``images_per_s`` is the pipeline figure, the one held to the target (>= 200 images/s on two
cores): the best of --repeat runs, since other work on shared cores only ever slows a run
(every run is in ``images_per_s_runs_*``; ``step_cpu_ms_*`` is the CPU time per step, which
shared cores inflate far less than wall time). Prints one JSON line.
Usage: python bench/ingest.py [--n 400] [--workers 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.util
import json
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from medfed.data.ingest import Skipped
from medfed.data.prepare import (
    CleaningSpec,
    ImageItem,
    NearDuplicateScope,
    ResampleMethod,
    StandardiseConfig,
    clean,
    standardise,
)

# Box averaging is the anti-aliasing filter for the exact 4x shrink; the default Gaussian +
# spline resize (SPLINE) is timed too, as ``images_per_s_spline``.
CONFIG = StandardiseConfig(
    target_shape=(128, 128),
    window_centre=40.0,
    window_width=400.0,
    resample_method=ResampleMethod.AREA,
)
SPLINE = dataclasses.replace(CONFIG, resample_method=ResampleMethod.SPLINE)
TARGET_IMAGES_PER_S = 200
HAVE_INGEST = importlib.util.find_spec("medfed.data.ingest") is not None
HAVE_DEID = importlib.util.find_spec("medfed.data.deid") is not None


def ct_slice(seed: int, size: int = 512) -> np.ndarray:
    """int16 (size, size) in HU: air, an elliptic soft-tissue body, two lungs, a few
    organs or bones at random places, Gaussian noise (20 HU)."""
    rng = np.random.default_rng(seed)
    y, x = (np.mgrid[0:size, 0:size] - size / 2) / (size / 2)
    a, b = rng.uniform(0.6, 0.95), rng.uniform(0.4, 0.75)
    image = np.full((size, size), -1000.0)
    image[(x / a) ** 2 + (y / b) ** 2 <= 1] = 40.0
    for side in (-1, 1):
        cx, cy, rx, ry = (
            side * rng.uniform(0.2, 0.5),
            rng.uniform(-0.3, 0.1),
            *rng.uniform(0.1, 0.3, 2),
        )
        image[((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1] = -850.0
    for _ in range(int(rng.integers(2, 6))):  # organs and bone at varying places
        cx, cy, r = rng.uniform(-0.5, 0.5), rng.uniform(-0.4, 0.4), rng.uniform(0.03, 0.15)
        image[(x - cx) ** 2 + (y - cy) ** 2 <= r**2] = rng.choice([60.0, 200.0, 700.0])
    image += rng.normal(0.0, 20.0, image.shape)
    return np.clip(image, -1024, 3071).astype(np.int16)


def write_dicom(pixels: np.ndarray, path: Path, index: int) -> None:
    """One CT Image Storage file with identifying attributes, stored as rescaled uint16."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.PatientName, ds.PatientID = f"Doe^Jane{index // 4}", f"MRN{index // 4:06d}"
    ds.PatientBirthDate, ds.StudyDate = "19600101", "20240315"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.InstanceNumber, ds.BurnedInAnnotation = 1, "NO"
    ds.Rows, ds.Columns = pixels.shape
    ds.PixelSpacing, ds.SliceThickness = [0.7, 0.7], 1.0
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.PixelData = (pixels.astype(np.int32) + 1024).astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def _prepare_file(
    path: str, key: bytes | None, config: StandardiseConfig
) -> tuple[float, ...]:
    """Read, de-identify (and verify) and standardise one file with the code ``medfed data
    register`` runs: seconds of each of the three steps."""
    from medfed.data.ingest.dicom import DicomReader, read_dicom

    t0, c0 = time.perf_counter(), time.process_time()
    ds = read_dicom(Path(path), path)
    assert not isinstance(ds, Skipped), ds
    t1, c1 = time.perf_counter(), time.process_time()
    if key is not None:
        from medfed.data.deid import DeidKey, DeidOptions, deidentify, find_residual_identifiers

        result = deidentify(ds, DeidOptions(key=DeidKey(key)))
        # Registration verifies every file before it decodes the pixels: timed with de-identification.
        assert not find_residual_identifiers(result.dataset, result.originals)
        ds = result.dataset
    t2, c2 = time.perf_counter(), time.process_time()
    reader = DicomReader()
    reader.add_dataset(ds, path, "")  # pixels decoded to HU by the modality LUT
    reader.finish()
    (read,) = reader.items
    item = ImageItem(path, read.pixels, read.spacing or (1.0, 1.0), read.modality, read.patient_id, None, "")
    out = standardise(item, config)
    assert out.pixels is not None
    t3, c3 = time.perf_counter(), time.process_time()
    return (t1 - t0, t2 - t1, t3 - t2, c1 - c0, c2 - c1, c3 - c2)


def _prepare_array(
    pixels: np.ndarray, index: int, config: StandardiseConfig
) -> tuple[float, ...]:
    """Standardise one in-memory slice: (0, 0, seconds) twice, shaped like ``_prepare_file``."""
    start, cpu = time.perf_counter(), time.process_time()
    item = ImageItem(str(index), pixels, (0.7, 0.7), "CT", f"p{index // 4}", None, "")
    assert standardise(item, config).pixels is not None
    return (0.0, 0.0, time.perf_counter() - start, 0.0, 0.0, time.process_time() - cpu)


def _chunked(pool: ProcessPoolExecutor, fn: Any, *columns: list[Any]) -> list[Any]:
    return list(pool.map(fn, *columns, chunksize=8))


def pipeline_rates(
    slices: list[np.ndarray], workers: int, report: dict[str, Any], repeat: int = 3
) -> dict[str, float]:
    """Images per second of the pipeline per resampling method, over ``workers`` processes
    (the best of ``repeat`` runs; every run is reported)."""
    n = len(slices)
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(workers) as pool:
        warm = 2 * workers  # start the processes and import everything before timing
        _chunked(pool, _prepare_array, slices[:warm], list(range(warm)), [CONFIG] * warm)
        if HAVE_INGEST:
            paths = [str(Path(tmp) / f"slice{i:05d}.dcm") for i in range(n)]
            for i, (pixels, path) in enumerate(zip(slices, paths, strict=True)):
                write_dicom(pixels, Path(path), i)
            key = secrets.token_bytes(32) if HAVE_DEID else None
            steps = "read + " + ("de-identify + verify + " if HAVE_DEID else "") + "decode + standardise"
            report["source"] = f"dicom files: {steps}"
            columns: list[list[Any]] = [paths, [key] * n]
            work: Any = _prepare_file
        else:
            report["source"] = "in-memory arrays (medfed.data.ingest absent): standardise only"
            columns, work = [slices, list(range(n))], _prepare_array
        for name, config in (("area", CONFIG), ("spline", SPLINE)):
            runs, per_run = [], []
            for _ in range(repeat):  # best of several: other work on the cores only slows a run
                start = time.perf_counter()
                per_run.append(np.array(_chunked(pool, work, *columns, [config] * n)))
                runs.append(n / (time.perf_counter() - start))
            rates[name] = max(runs)
            steps_s = per_run[int(np.argmax(runs))]  # the step times of the best run
            report[f"images_per_s_runs_{name}"] = [round(r, 1) for r in runs]
            medians = np.median(steps_s, axis=0) * 1000
            step_names = ("read", "deidentify", "standardise")
            report[f"step_ms_median_{name}"] = {
                k: round(float(v), 2) for k, v in zip(step_names, medians[:3], strict=True)
            }
            # CPU time says what a step costs even when other work shares the cores.
            report[f"step_cpu_ms_median_{name}"] = {
                k: round(float(v), 2) for k, v in zip(step_names, medians[3:], strict=True)
            }
    return rates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--repeat", type=int, default=3, help="pipeline runs; the best is reported")
    args = parser.parse_args()
    print(f"generating {args.n} slices ...", file=sys.stderr)
    slices = [ct_slice(i) for i in range(args.n)]
    report: dict[str, Any] = {"n": args.n, "workers": args.workers}
    rates = pipeline_rates(slices, args.workers, report, max(1, args.repeat))
    items = [
        ImageItem.from_array(str(i), s, patient=f"p{i // 4}", modality="CT", spacing=(0.7, 0.7))
        for i, s in enumerate(slices)
    ]
    start = time.perf_counter()
    for item in items:
        standardise(item, CONFIG)
    standardise_s = time.perf_counter() - start
    # Slices of different patients at one level look alike to a 64-bit pHash, so near
    # duplicates are looked for within a patient, as a CT site would configure it.
    spec = CleaningSpec(
        modalities=frozenset({"CT"}), near_duplicate_scope=NearDuplicateScope.SAME_PATIENT
    )
    start = time.perf_counter()
    kept, cleaning = clean(items, spec)
    clean_s = time.perf_counter() - start
    report.update(
        {
            "images_per_s": round(rates["area"], 1),
            "target_images_per_s": TARGET_IMAGES_PER_S,
            "meets_target": rates["area"] >= TARGET_IMAGES_PER_S,
            "images_per_s_spline": round(rates["spline"], 1),
            "config_digest": CONFIG.digest(),
            "standardise_images_per_s_1proc": round(args.n / standardise_s, 1),
            "clean_images_per_s_1proc": round(args.n / clean_s, 1),
            "clean_kept": len(kept),
            "clean_dropped": cleaning.counts(),
            "cpu_cores": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
