"""The ``extractors`` entry of feature tables: written with the table, read back by one helper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medfed.data.feature_tables import extractor_signatures, load_party_table, save_party_table
from medfed.data.features import FirstOrder, GLCMTexture
from medfed.data.tabular import Table
from medfed.errors import DataIntegrityError, DataUnavailableError


def _table() -> Table:
    return Table(("p1", "p2"), np.ones((2, 3)), np.array([0, 1]), ("a", "b", "c"))


@pytest.mark.clause("5.3.2d")
def test_party_table_records_its_extractor_signatures_in_column_order(tmp_path: Path) -> None:
    signatures = [FirstOrder().signature(), GLCMTexture(levels=16).signature()]
    save_party_table(tmp_path / "t.npz", _table(), extractors=signatures)
    assert extractor_signatures(tmp_path / "t.npz") == signatures
    assert load_party_table(tmp_path / "t.npz").feature_names == ("a", "b", "c")
    assert not list(tmp_path.glob(".*part"))  # written through a temporary file


def test_tables_without_extractors_report_none_and_bad_entries_are_integrity_errors(tmp_path: Path) -> None:
    save_party_table(tmp_path / "plain.npz", _table())
    assert extractor_signatures(tmp_path / "plain.npz") == []
    np.savez(tmp_path / "old.npz", features=np.ones((1, 1)))
    assert extractor_signatures(tmp_path / "old.npz") == []
    np.savez(tmp_path / "bad.npz", extractors=np.array('{"not": "a list"}'))
    with pytest.raises(DataIntegrityError, match="not a JSON list"):
        extractor_signatures(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataIntegrityError):
        extractor_signatures(tmp_path / "junk.npz")
    with pytest.raises(DataUnavailableError):
        extractor_signatures(tmp_path / "absent.npz")


@pytest.mark.clause("5.3.2d")
def test_image_statistics_tables_are_told_apart_before_modeling() -> None:
    from medfed.data.feature_tables import table_signatures
    from medfed.dispatcher.extractors import ExtractorCheck
    from medfed.errors import DataError

    stats, texture = table_signatures("pneumoniamnist_stats"), table_signatures("pneumoniamnist_texture")
    other_source = table_signatures("breastmnist_stats")  # same 14 columns, other images
    assert len({*stats, *texture, *other_source}) == 3 and all(s.startswith("image_statistics/v1/") for s in stats)
    assert table_signatures("pneumoniamnist") == []  # images carry no extractor
    check = ExtractorCheck()
    check.report("hospital-a", texture)
    check.report("hospital-b", texture)
    check.report("hospital-c", stats)
    with pytest.raises(DataError, match="hospital-c"):
        check.check(["hospital-a", "hospital-b", "hospital-c"])
    check.report("hospital-c", texture)
    check.check(["hospital-a", "hospital-b", "hospital-c"])
