"""A tiny study with goals, and one short real simulation run of it shared by the tests."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from rich.console import Console

STUDY = """
[study]
id = "goals-check"

[goals]
question = "Can two hospitals detect pneumonia on chest X-rays together?"
direction = "AI-assisted diagnosis of paediatric pneumonia"
criteria = ["auc >= 0.5", "|delta_auc| <= 0.5", "ks >= 0.999", "misdiagnosis_rate <= 1"]

[goals.privacy]
require = ["consent"]
limits = "research only"

[goals.data]
modality = "chest x-ray"
min_per_class = 5
min_cell = 10

[goals.sharing]
result = ["model", "metrics", "report"]
hospital-a = ["metrics"]

[data]
dataset = "pneumoniamnist"
partition = "iid"

[training]
rounds = 2
min_nodes = 2
seed = 3
{extra}

[[parties]]
name = "dispatcher"
role = "dispatcher"

[[parties]]
name = "hospital-a"
role = "data"

[[parties]]
name = "hospital-b"
role = "data"

[[parties]]
name = "result"
role = "result"
"""


def study_text(extra: str = "") -> str:
    """The tiny study; ``extra`` is appended after [training] (e.g. a [privacy] table)."""
    return STUDY.replace("{extra}", extra)


@pytest.fixture(scope="session")
def goal_run(medmnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """run_study in simulation: 2 rounds, 150 training records per hospital."""
    from medfed.orchestration.runs import RunOptions, run_study

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("goal-run")
    path = folder / "study.toml"
    path.write_text(study_text(), encoding="utf-8")
    printed = io.StringIO()
    options = RunOptions(
        study_path=path, out_dir=folder / "run", data_dir=medmnist_dir, device="cpu",
        mode="simulation", max_train=150,
    )
    returned = run_study(options, console=Console(file=printed, width=160))
    out = folder / "run"
    return {
        "out": out,
        "returned": returned,
        "results": json.loads((out / "results.json").read_text(encoding="utf-8")),
        "html": (out / "report.html").read_text(encoding="utf-8"),
        "printed": printed.getvalue(),
    }
