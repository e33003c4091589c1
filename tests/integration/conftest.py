"""Real deployments on loopback: a study file, kits from a throw-away CA, hospital data files."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from medfed.core.config import StudyConfig, dump_study, load_study
from medfed.orchestration.consent import approve_all
from medfed.orchestration.processes import Deployment, Launch
from medfed.orchestration.scenario import Scenario, prepare_scenario, write_hospital_files
from medfed.provision import provision_study

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pneumonia-3-hospitals.toml"


@dataclass
class Site:
    study: StudyConfig
    study_path: Path
    kits: Path
    scenario: Scenario
    data_paths: dict[str, Path]
    root: Path

    @property
    def grants(self) -> Path:
        return self.root / "grants.db"

    def deployment(self, name: str = "run") -> Deployment:
        launch = Launch(
            self.study_path, self.kits, self.data_paths, self.root / name, device="cpu", grants_path=self.grants
        )
        return Deployment(self.study, launch)


def make_site(
    root: Path, data_dir: Path, *, privacy: object = None, approve: bool = True, **training: object
) -> Site:
    """BreastMNIST (546 training images) keeps each round to about a second."""
    base = load_study(EXAMPLE)
    from dataclasses import replace

    study = replace(
        base,
        study_id="it-study",
        data=replace(base.data, dataset="breastmnist", alpha=1.0),
        training=replace(base.training, rounds=2, batch_size=32, join_timeout=60, round_timeout=120),
    )
    if training:
        study = study.with_training(**training)
    if privacy is not None:
        study = replace(study, privacy=privacy)
    root.mkdir(parents=True, exist_ok=True)
    study_path = root / "study.toml"
    study_path.write_text(dump_study(study))
    kits = root / "kits"
    provision_study(study, kits)
    scenario = prepare_scenario(study, data_dir=data_dir)
    data_paths = write_hospital_files(scenario, root / "hospitals")
    if approve:  # every hospital's data owner consents, as in the demo
        approve_all(study, kits, root / "grants.db")
    return Site(study, study_path, kits, scenario, data_paths, root)


@pytest.fixture
def site(tmp_path: Path, medmnist_dir: Path) -> Iterator[Site]:
    yield make_site(tmp_path / "site", medmnist_dir)
