"""The per-party data card: aggregates only, small cells hidden (5.2d)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medfed.data.prepare import CleaningSpec, ImageItem, build_data_card, clean, suppress
from medfed.errors import ConfigError


def _items() -> list[ImageItem]:
    rng = np.random.default_rng(0)
    items = []
    for k in range(23):
        side = 512 if k < 20 else 100
        pixels = rng.integers(0, 1000, (side, side)).astype(np.int16)
        items.append(
            ImageItem.from_array(
                f"i{k}",
                pixels,
                patient=f"P{k // 2}",
                modality="CT" if k < 21 else "MR",
                label=0 if k < 15 else 1,
            )
        )
    return items


@pytest.mark.clause("5.2d")
def test_data_card_counts_and_hides_small_cells() -> None:
    items = _items()
    kept, report = clean([*items, items[0]], CleaningSpec(near_duplicate_distance=-1))
    card = build_data_card(
        "hospital-a", kept, cleaning=report, class_names={0: "normal", 1: "nodule", 2: "mass"}
    )
    assert card.totals == {"images": 23, "patients": 12}
    assert card.classes == {"mass": 0, "nodule": 8, "normal": 15}
    # one small cell and a published total: its neighbour is hidden too
    assert card.modalities == {"CT": "suppressed", "MR": "<5"}
    assert card.image_sizes["512-1023"] == "suppressed" and card.image_sizes["64-127"] == "<5"
    assert card.dimensions == {"2d": 23}
    assert card.cleaning is not None and card.cleaning["exact_duplicate"] == "<5"
    text = json.dumps(card.to_dict())
    assert "i0" not in text and "P0" not in text  # no item ids or pseudonyms
    assert json.loads(card.to_json())["party"] == "hospital-a"
    rendered = card.render_text()
    assert "hospital-a" in rendered and "MR <5" in rendered


@pytest.mark.clause("5.2d")
def test_a_single_hidden_cell_cannot_be_recovered_from_the_total() -> None:
    assert suppress({"a": 3, "b": 7, "c": 40}, 5) == {"a": "<5", "b": "suppressed", "c": 40}
    assert suppress({"a": 3, "b": 2, "c": 40}, 5) == {"a": "<5", "b": "<5", "c": 40}
    assert suppress({"a": 0, "b": 9}, 5) == {"a": 0, "b": 9}
    assert suppress({"a": 3, "b": 7}, 2) == {"a": 3, "b": 7}


def test_small_totals_are_hidden_too_and_min_cell_is_checked() -> None:
    card = build_data_card("tiny", _items()[:3], min_cell=10)
    assert card.totals == {"images": "<10", "patients": "<10"}
    with pytest.raises(ConfigError):
        build_data_card("x", [], min_cell=0)
