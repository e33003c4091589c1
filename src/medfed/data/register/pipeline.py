"""``register_folder``: a hospital folder in, a registered dataset a node trains on out.

read + de-identify + verify (``read.py``, on several processes: ``parallel.py``) → clean
(5.3.3.2a-b) → standardise (5.3.3.2c) → patient-level split (5.3.3.2d) → the dataset record
(5.3.1), the cleaning report, the data card (5.2d) and the node's data file, written all
together or not at all (``outputs.py``).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medfed.data.ingest.record import build_record
from medfed.data.local import save_local_dataset
from medfed.data.medmnist import Split, image_shape
from medfed.data.prepare import (
    CleaningReport,
    CleaningSpec,
    DataCard,
    ImageItem,
    Subset,
    build_data_card,
    clean,
    patient_level_split,
    pixel_hash,
    standardise,
)
from medfed.data.register.adapter import class_index, corrupt_items, to_image_item
from medfed.data.register.options import RegisterOptions
from medfed.data.register.outputs import (
    RECORD_FILE,
    json_strings,
    stage_and_commit,
    write_json,
    write_npz,
)
from medfed.data.register.read import Progress, Read, read_folder
from medfed.data.register.redact import Redactor, words_with_letters
from medfed.errors import ConfigError, DataError

DATA_FILE = "data.npz"  # what ``medfed node --data`` reads: train and validation splits
TEST_FILE = "test.npz"  # the hospital's own held-out patients
CLEANING_FILE = "cleaning.json"
DATACARD_FILE = "datacard.json"
DATACARD_TEXT = "datacard.txt"


@dataclass(frozen=True)
class Registration:
    """Where the dataset went and what it holds."""

    out: Path
    files: tuple[Path, ...]
    record: dict[str, Any]
    cleaning: CleaningReport
    card: DataCard

    @property
    def data_file(self) -> Path:
        return self.out / DATA_FILE


def register_folder(
    root: Path, out: Path, options: RegisterOptions, *, on_progress: Progress | None = None
) -> Registration:
    """Register the images under ``root`` into ``out`` (see the module docstring).

    Raises :class:`DataError` (nothing written) for an empty folder, a labels CSV that
    matches no image or names unknown classes, an identifier the de-identification left,
    or no usable labelled image; :class:`ConfigError` for a labels CSV without its columns
    or an output folder inside ``root``.
    """
    root, out = Path(root), Path(out)
    if out.exists() and not out.is_dir():  # found before the work, not after it
        raise ConfigError(f"the dataset folder {out} is a file; give a folder")
    if out.resolve().is_relative_to(root.resolve()):
        # A second run would read the first one's outputs as new images.
        raise ConfigError(f"the dataset folder {out} must not lie inside the folder it registers")
    read = read_folder(root, options, on_progress)
    redactor = read.redactor()
    items, unlabelled = _labelled_items(read, options, redactor)
    corrupt = corrupt_items(read.skipped, read.checksums, redactor)
    spec = CleaningSpec(
        modalities=options.modalities,
        dims=frozenset({options.info.dims}),
        near_duplicate_distance=options.near_duplicate_distance,
    )
    kept, cleaning = clean([*corrupt, *items], spec)
    if not kept:
        raise DataError(f"no usable image is left after cleaning: {cleaning.summary()}")
    config = options.standardise_config()
    pixels = _standardised(kept, options, on_progress)
    split = patient_level_split(
        [i.patient for i in kept], [i.label for i in kept], fractions=options.fractions,
        seed=options.seed,
    )
    if not split.indices[Subset.TRAIN]:
        raise DataError(f"too few patients ({len({i.patient for i in kept})}) for a training split")
    labels = np.array([i.label for i in kept], dtype=np.int64)

    def subset(s: Subset) -> Split:
        rows = np.array(split.indices[s], dtype=np.int64)
        return Split(pixels[rows], labels[rows])

    card = build_data_card(
        options.party, kept, cleaning=cleaning, min_cell=options.min_count,
        class_names=dict(enumerate(options.info.labels)),
    )
    arrays = {s: subset(s) for s in Subset}
    record = _record(read, redactor, kept, cleaning, split.counts(), arrays, unlabelled, options)
    record["standardise"] = {"digest": config.digest(), "config": config.to_dict()}
    report = {
        "summary": cleaning.summary(),
        "ingest_skipped": _skip_counts(read),
        "burned_in_excluded": len(read.burned_in),
        "unlabelled_excluded": unlabelled,
        "deidentification": _deid_counts(read),
        "clean": cleaning.to_dict(),
    }

    def write(folder: Path) -> None:
        save_local_dataset(
            folder / DATA_FILE, flag=options.task, size=options.size,
            train=arrays[Subset.TRAIN], val=arrays[Subset.VAL],
        )
        meta = json.dumps({"flag": options.task, "size": options.size})
        write_npz(
            folder / TEST_FILE,
            {
                "test_images": arrays[Subset.TEST].images,
                "test_labels": arrays[Subset.TEST].labels,
                "meta": np.array(meta),
            },
        )
        write_json(folder / CLEANING_FILE, report)
        write_json(folder / DATACARD_FILE, card.to_dict())
        (folder / DATACARD_TEXT).write_text(card.render_text() + "\n", encoding="utf-8")
        write_json(folder / RECORD_FILE, record)

    vocabulary = _own_vocabulary(options, record, card, report, kept)
    files = stage_and_commit(out, redactor, write, vocabulary=vocabulary)
    return Registration(out, tuple(files), record, cleaning, card)


def _labelled_items(
    read: Read, options: RegisterOptions, redactor: Redactor
) -> tuple[list[ImageItem], int]:
    """Every item with a label as an ``ImageItem``; unknown class names are one error."""
    bad = sorted({i.label for i in read.items if i.label is not None and not _is_class(i.label, options)})
    if bad:
        info = options.info
        raise DataError(
            f"labels not among the classes of {info.flag}: {', '.join(repr(b) for b in bad[:10])}"
            f"; use 0..{info.n_classes - 1} or one of {', '.join(repr(n) for n in info.labels)}"
        )
    labelled = [i for i in read.items if i.label is not None]
    if read.items and not labelled:
        hint = "give a labels CSV (--labels)" if options.labels is None else "check the labels CSV"
        raise DataError(f"none of the {len(read.items)} images has a label; {hint}")
    if not read.items and not read.skipped and not read.burned_in:
        raise DataError("no image was found")
    per_file = Counter(i.source for i in read.items)
    items = [
        to_image_item(i, options.info, redactor, one_of_many=per_file[i.source] > 1) for i in labelled
    ]
    return items, len(read.items) - len(labelled)


def _is_class(label: str, options: RegisterOptions) -> bool:
    try:
        class_index(label, options.info)
    except DataError:
        return False
    return True


def _standardised(items: list[ImageItem], options: RegisterOptions, on_progress: Progress | None) -> np.ndarray:
    """uint8 (N, *image_shape) in the task's layout (grey repeated for colour tasks)."""
    config = options.standardise_config()
    shape = image_shape(options.info, options.size)
    out = np.zeros((len(items), *shape), dtype=np.uint8)
    # In this process: sending full-size pixels to a worker costs about what standardising
    # them does, so a pool here was measured slower than none.
    for k, item in enumerate(items):
        grey = standardise(item, config).pixels
        assert grey is not None  # only items with pixels are kept by cleaning
        out[k] = grey[..., None] if len(shape) == grey.ndim + 1 else grey
        if on_progress is not None:
            on_progress("standardise", k + 1, len(items))
    return out


def _deid_counts(read: Read) -> dict[str, Any]:
    """What de-identification changed beyond the profile's usual work, by reason."""
    return {
        "unshiftable_dates_removed": {
            "files": read.files_with_unshiftable_dates,
            "elements": dict(sorted(read.unshiftable_dates.items())),
        },
        "overlay_bits_cleared_files": read.overlay_bits_cleared,
    }


def _own_vocabulary(
    options: RegisterOptions,
    record: dict[str, Any],
    card: DataCard,
    report: dict[str, Any],
    kept: list[ImageItem],
) -> frozenset[str]:
    """Words the outputs hold whatever the images are (class and field names, the task, the
    party, the fixed wording), less every word that text from the source files (paths shown,
    readers' messages, Modality values) also puts there: an identifier equal to such a word
    leaks nothing, unless it came from a file."""
    card_fields = {k: v for k, v in card.to_dict().items() if k != "modalities"}
    ours = [
        *options.info.labels,
        options.task,
        options.party,
        dataclasses.replace(card, modalities={}).render_text(),
        *json_strings(card_fields, field_names=True),
        *json_strings({k: v for k, v in record.items() if k not in ("source", "checksums")},
                      field_names=True),
        report["summary"],
        *json_strings({k: v for k, v in report.items() if k != "clean"}, field_names=True),
        *json_strings(report["clean"]["counts"], field_names=True),
    ]
    source = record["source"]
    theirs = [
        *source["checksums"],
        *source["modalities"],
        *(text for s in source["skipped"] for text in (s["path"], s["detail"])),
        *(item.item_id for item in kept),
    ]
    return words_with_letters(ours) - words_with_letters(theirs)


def _skip_counts(read: Read) -> dict[str, int]:
    counts: dict[str, int] = {}
    for skip in read.skipped:
        counts[skip.reason.name.lower()] = counts.get(skip.reason.name.lower(), 0) + 1
    return dict(sorted(counts.items()))


def _record(
    read: Read,
    redactor: Redactor,
    kept: list[ImageItem],
    cleaning: CleaningReport,
    split_counts: dict[str, dict[str, int]],
    arrays: dict[Subset, Split],
    unlabelled: int,
    options: RegisterOptions,
) -> dict[str, Any]:
    """The dataset record: schema, counts and content checksums, with no identifier in it."""
    # A reader's message may quote a path or a value from the file: checked like a path.
    skipped = [dataclasses.replace(s, detail=redactor.detail(s.detail)) for s in read.skipped]
    source = build_record(
        read.items, skipped, read.checksums, read.label_problems,
        rename=lambda path: redactor.name(path, read.checksums.get(path, path)),
    )
    shape = image_shape(options.info, options.size)
    return {
        "schema": {
            "task": options.task,
            "size": options.size,
            "image_shape": list(shape),
            "dtype": "uint8",
            "classes": list(options.info.labels),
            "files": {DATA_FILE: "train_images, train_labels, val_images, val_labels, meta",
                      TEST_FILE: "test_images, test_labels, meta"},
        },
        "party": options.party,
        "seed": options.seed,
        "fractions": list(options.fractions),
        "counts": {
            "files": len(read.checksums),
            "images_read": len(read.items),
            "burned_in_excluded": len(read.burned_in),
            "unlabelled_excluded": unlabelled,
            "cleaning_dropped": cleaning.n_dropped,
            "kept": len(kept),
            "patients": len({i.patient for i in kept}),
            "split": split_counts,
        },
        "checksums": {
            "arrays": {
                f"{s.value}_{part}": pixel_hash(getattr(arrays[s], part))
                for s in Subset
                for part in ("images", "labels")
            },
            "kept_sources": sorted(i.content_hash for i in kept),
        },
        "source": json.loads(source.to_json()),
        "deidentification": {
            "profile": "DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile",
            "dates": "shifted per patient" if options.shift_dates else "removed",
            "pseudonyms": "keyed hash of the original ID (the key stays at the hospital)",
            "unshiftable_dates": "removed or emptied as the profile does without the date "
            "option; the image is kept",
            **_deid_counts(read),
        },
    }
