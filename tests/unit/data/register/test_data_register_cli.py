"""``medfed data register`` from the command line: a data file out, one-line errors, a kept key."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medfed.cli import main
from medfed.data import load_local_dataset


def _folder(root: Path) -> None:
    rng = np.random.default_rng(5)
    root.mkdir()
    lines = ["id,label"]
    for k in range(10):
        image = np.kron(rng.integers(0, 255, (4, 4)), np.ones((8, 8))).astype(np.uint8)
        Image.fromarray(image).save(root / f"c{k}.png")
        lines.append(f"c{k},{'malignant' if k % 2 else 'normal, benign'}")
    (root / "labels.csv").write_text("\n".join(f'"{x.split(",", 1)[0]}","{x.split(",", 1)[1]}"' for x in lines) + "\n")


@pytest.mark.slow  # the first main() imports every command
@pytest.mark.clause("5.3.1")
def test_register_writes_a_node_data_file_and_keeps_the_key_private(tmp_path: Path, capsys) -> None:
    _folder(tmp_path / "in")
    key = tmp_path / "secret" / "deid.key"
    argv = ["data", "register", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--task", "breastmnist",
            "--labels", str(tmp_path / "in" / "labels.csv"), "--label-key", "file_stem", "--deid-key", str(key)]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out" / "data.npz")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = load_local_dataset(tmp_path / "out" / "data.npz")
    assert main([*argv[:4], str(tmp_path / "again"), *argv[5:]]) == 0  # same key: same pseudonyms, same split
    again = load_local_dataset(tmp_path / "again" / "data.npz")
    assert np.array_equal(first.train.images, again.train.images)


def test_register_errors_are_one_line_with_exit_status_2(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    code = main(["data", "register", str(tmp_path / "empty"), "--out", str(tmp_path / "out"),
                 "--deid-key", str(tmp_path / "k")])
    assert code == 2
    assert "holds no files to register" in capsys.readouterr().err


def test_register_workers_option_is_checked(tmp_path: Path, capsys) -> None:
    _folder(tmp_path / "in")
    argv = ["data", "register", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--task", "breastmnist",
            "--labels", str(tmp_path / "in" / "labels.csv"), "--label-key", "file_stem",
            "--deid-key", str(tmp_path / "k")]
    assert main([*argv, "--workers", "0"]) == 2
    assert "workers must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main([*argv, "--workers", "1"]) == 0
    assert (tmp_path / "out" / "data.npz").is_file()
