"""Labels from a CSV keyed by a study-local ID; mismatches are counted, never fatal."""

from __future__ import annotations

import csv
import dataclasses
import enum
from dataclasses import dataclass
from pathlib import Path

from medfed.data.ingest.record import Item
from medfed.errors import ConfigError, DataError


class LabelKey(enum.Enum):
    """Which item field the CSV's ID column matches."""

    PATIENT_ID = "patient_id"
    FILE_STEM = "file_stem"


@dataclass(frozen=True)
class LabelOptions:
    """Where the labels are and which columns hold the ID and the label."""

    csv_path: Path
    id_column: str = "id"
    label_column: str = "label"
    key: LabelKey = LabelKey.PATIENT_ID


def read_labels(options: LabelOptions) -> dict[str, str]:
    """ID -> label; :class:`ConfigError` if a column is missing, :class:`DataError` if the
    file cannot be read or one ID has two different labels."""
    try:
        with options.csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            # Spreadsheets pad headers ("id , label"): the names count without the spaces.
            names = [name.strip() for name in reader.fieldnames or ()]
            reader.fieldnames = names
            columns = set(names)
            missing = {options.id_column, options.label_column} - columns
            if missing:
                raise ConfigError(
                    f"{options.csv_path} lacks the column(s) {', '.join(sorted(missing))}; "
                    f"it has {', '.join(sorted(columns))}"
                )
            twice = sorted(c for c in {options.id_column, options.label_column} if names.count(c) > 1)
            if twice:
                # csv keeps only the last of two equal columns: which one is meant is a guess.
                raise ConfigError(f"{options.csv_path} has the column(s) {', '.join(twice)} twice")
            labels: dict[str, str] = {}
            for row in reader:
                key = (row[options.id_column] or "").strip()
                value = (row[options.label_column] or "").strip()
                if not key or not value:
                    continue  # a row without an ID or a label labels nothing: counted as unlabelled
                if key in labels and labels[key] != value:
                    raise DataError(f"{options.csv_path}: ID {key!r} has two different labels")
                labels[key] = value
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{options.csv_path} cannot be read as CSV: {exc}") from None
    return labels


def attach_labels(
    items: list[Item], labels: dict[str, str], key: LabelKey
) -> tuple[list[Item], dict[str, int]]:
    """``items`` with labels attached, and counts of ``unknown_ids`` (in the CSV, no image)
    and ``unlabelled_items`` (image, no row)."""
    used: set[str] = set()
    out: list[Item] = []
    unlabelled = 0
    for item in items:
        ident = item.patient_id if key is LabelKey.PATIENT_ID else _file_stem(item.source)
        label = labels.get(ident, item.label)
        if ident in labels:
            used.add(ident)
        if label is None:
            unlabelled += 1
        out.append(dataclasses.replace(item, label=label))
    return out, {"unknown_ids": len(set(labels) - used), "unlabelled_items": unlabelled}


def _file_stem(source: str) -> str:
    name = Path(source).name
    for suffix in (".nii.gz", ".nii", ".dcm", ".png", ".jpg", ".jpeg", ".npz"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name
