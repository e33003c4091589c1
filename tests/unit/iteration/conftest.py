"""A tiny study for model iteration: 2 hospitals, 2 rounds, a small subsample."""

from __future__ import annotations

import tomllib

import pytest
import torch

from medfed.core.config import StudyConfig, parse_study

TINY = """
[study]
id = "iteration-check"

[goals]
question = "Which settings train a pneumonia classifier best?"

[data]
dataset = "pneumoniamnist"
partition = "iid"
val_fraction = 0.2

[training]
rounds = 2
min_nodes = 2
seed = 1

[security]
require_grants = false

[[parties]]
name = "dispatcher"
role = "dispatcher"

[[parties]]
name = "hospital-a"
role = "data"

[[parties]]
name = "hospital-b"
role = "data"
"""

MAX_TRAIN = 120


@pytest.fixture(scope="session")
def tiny_study() -> StudyConfig:
    torch.set_num_threads(1)
    return parse_study(tomllib.loads(TINY))
