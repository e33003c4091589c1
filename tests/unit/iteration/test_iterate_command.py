"""``medfed iterate``: discovered automatically; user mistakes end as one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from medfed.cli import main

from .conftest import TINY

pytestmark = pytest.mark.clause("5.7.3.5")


@pytest.fixture()
def study_file(tmp_path: Path) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(TINY, encoding="utf-8")
    return path


def test_search_without_a_space_is_a_clear_error(study_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["iterate", "search", str(study_file), "--out", str(study_file.parent / "o")]) == 2
    assert "--space NAME=V1,V2" in capsys.readouterr().err


def test_cv_with_one_fold_is_a_clear_error(study_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["iterate", "cv", str(study_file), "--k", "1", "--out", str(study_file.parent / "o")]) == 2
    assert "k must be >= 2" in capsys.readouterr().err


def test_private_search_over_the_epsilon_goal_is_refused(study_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capped = study_file.read_text(encoding="utf-8").replace(
        '[data]', '[goals.privacy]\nmax_epsilon = 1.0\n\n[data]'
    )
    study_file.write_text(capped, encoding="utf-8")
    code = main(["iterate", "search", str(study_file), "--space", "lr=1e-3", "--private", "--epsilon", "5"])
    assert code == 2
    assert "exceeds the goal's max_epsilon 1" in capsys.readouterr().err
