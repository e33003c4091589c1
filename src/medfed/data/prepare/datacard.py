"""Per-party data card (standard 5.2d): what a hospital holds, as aggregates only.

Counts per class, per modality, per image-size bin (largest in-plane side, pixels), the
number of patients and images, and the cleaning summary. Any count from 1 to
``min_cell - 1`` is shown as ``"<min_cell"``; when a group would then have exactly one
hidden cell, the next smallest non-zero cell is hidden too (shown as ``"suppressed"``),
so the hidden value cannot be recovered from the published total.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from medfed.data.prepare.clean import CleaningReport
from medfed.data.prepare.item import ImageItem
from medfed.errors import ConfigError

__all__ = ["DataCard", "build_data_card", "suppress"]

SIZE_EDGES = (64, 128, 256, 512, 1024)  # pixels: bins [0, 64), [64, 128), ..., [1024, inf)
Cell = int | str


def suppress(counts: Mapping[str, int], min_cell: int) -> dict[str, Cell]:
    """Counts with small cells hidden (see the module docstring); zeros stay visible."""
    out: dict[str, Cell] = dict(counts)
    small = [k for k, v in counts.items() if 0 < v < min_cell]
    for key in small:
        out[key] = f"<{min_cell}"
    if len(small) == 1:
        others = sorted((v, k) for k, v in counts.items() if v >= min_cell)
        if others:
            out[others[0][1]] = "suppressed"
    return out


def _size_bin(side: int) -> str:
    low = 0
    for edge in SIZE_EDGES:
        if side < edge:
            return f"{low}-{edge - 1}"
        low = edge
    return f">={SIZE_EDGES[-1]}"


@dataclass(frozen=True)
class DataCard:
    """A party's data summary, already suppressed and safe to share."""

    party: str
    min_cell: int
    totals: dict[str, Cell]
    classes: dict[str, Cell]
    modalities: dict[str, Cell]
    image_sizes: dict[str, Cell]
    dimensions: dict[str, Cell]
    cleaning: dict[str, Cell] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "min_cell": self.min_cell,
            "totals": self.totals,
            "classes": self.classes,
            "modalities": self.modalities,
            "image_sizes": self.image_sizes,
            "dimensions": self.dimensions,
            "cleaning": self.cleaning,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def render_text(self) -> str:
        """A few human-readable lines."""

        def row(title: str, cells: Mapping[str, Cell] | None) -> str:
            if not cells:
                return f"  {title}: -"
            return f"  {title}: " + ", ".join(f"{k} {v}" for k, v in cells.items())

        return "\n".join(
            [
                f"Data card: {self.party} (cells below {self.min_cell} hidden)",
                row("totals", self.totals),
                row("classes", self.classes),
                row("modalities", self.modalities),
                row("largest side (px)", self.image_sizes),
                row("dimensions", self.dimensions),
                row("cleaning dropped", self.cleaning),
            ]
        )


def build_data_card(
    party: str,
    items: Sequence[ImageItem],
    *,
    cleaning: CleaningReport | None = None,
    min_cell: int = 5,
    class_names: Mapping[int, str] | None = None,
) -> DataCard:
    """The data card of the (cleaned) ``items`` of ``party``; ``class_names`` maps label
    indices to names (default: the index as text; unlabelled images count as "unlabelled")."""
    if min_cell < 1:
        raise ConfigError(f"min_cell must be >= 1, got {min_cell}")
    names = dict(class_names or {})

    def class_key(label: int | None) -> str:
        return "unlabelled" if label is None else names.get(label, str(label))

    classes = Counter(class_key(i.label) for i in items)
    for name in names.values():  # declared classes show up even with no images
        classes.setdefault(name, 0)
    sizes = Counter(_size_bin(max(i.pixels.shape[-2:])) for i in items if i.pixels is not None)
    dims = Counter(f"{i.pixels.ndim}d" for i in items if i.pixels is not None)
    totals = {"images": len(items), "patients": len({i.patient for i in items})}
    return DataCard(
        party=party,
        min_cell=min_cell,
        totals={k: (v if v == 0 or v >= min_cell else f"<{min_cell}") for k, v in totals.items()},
        classes=suppress(dict(sorted(classes.items())), min_cell),
        modalities=suppress(dict(sorted(Counter(i.modality for i in items).items())), min_cell),
        image_sizes=suppress(_ordered_sizes(sizes), min_cell),
        dimensions=suppress(dict(sorted(dims.items())), min_cell),
        cleaning=None if cleaning is None else suppress(cleaning.counts(), min_cell),
    )


def _ordered_sizes(sizes: Counter[str]) -> dict[str, int]:
    labels = [_size_bin(e - 1) for e in SIZE_EDGES] + [f">={SIZE_EDGES[-1]}"]
    return {label: sizes.get(label, 0) for label in labels}
