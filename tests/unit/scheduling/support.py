"""Shared test values for the task queue: a small study, a valid result, a hand-driven clock."""

from __future__ import annotations

from medfed.scheduling import TaskSpec

STUDY_TOML = """
[study]
id = "breast-small"

[data]
dataset = "breastmnist"
size = 28
partition = "iid"

[training]
model = "cnn2d"
rounds = 1
local_epochs = 1
batch_size = 64
seed = 0
min_nodes = 2

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

[[parties]]
name = "initiator"
role = "initiator"

[[parties]]
name = "result"
role = "result"
"""


class FakeClock:
    """Seconds that move only when a test says so."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def spec(name: str = "task", **changes: object) -> TaskSpec:
    """A valid study task; keyword arguments override fields."""
    fields: dict[str, object] = {"kind": "study", "name": name, "study_toml": STUDY_TOML, **changes}
    return TaskSpec(**fields)  # type: ignore[arg-type]


GOOD_RESULT = {"metrics": {"auc": 0.8, "ks": 0.5, "accuracy": 0.75}, "rounds": 1, "run_dir": "/tmp/run"}
