"""The algorithm registry from the command line: publish, approve, verify (5.4.2.3a–b)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from medfed.authz import AlgorithmError
from medfed.authz.study_use import algorithm_code
from medfed.cli import main
from medfed.core.config import Party, load_study
from medfed.errors import IdentityError
from medfed.orchestration import algorithms
from medfed.provision import provision_study
from medfed.roles import Role

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pneumonia-3-hospitals.toml"


@pytest.fixture
def kits(tmp_path: Path) -> Path:
    study = load_study(EXAMPLE)
    study = replace(study, parties=(*study.parties, Party("algorithm-lab", Role.ALGORITHM)))
    provision_study(study, tmp_path / "kits")
    return tmp_path / "kits"


@pytest.mark.clause("5.4.2.3b", "5.4.2.3a")
def test_published_and_approved_code_verifies_and_one_changed_byte_does_not(kits: Path, tmp_path: Path) -> None:
    store = tmp_path / "registry.db"
    common = ["--store", str(store), "--publisher-kit", str(kits / "algorithm-lab")]
    assert main(["algorithm", "publish", *common]) == 0
    hospital = kits / "hospital-a"
    # Not yet approved by this hospital's data owner: refused.
    with pytest.raises(AlgorithmError):
        algorithms.verify(hospital, store, kits / "algorithm-lab")
    assert main(["algorithm", "approve", *common, "--kit", str(hospital)]) == 0
    assert main(["algorithm", "verify", *common, "--kit", str(hospital)]) == 0
    altered = dict(algorithm_code())
    altered["models/cnn.py"] = altered["models/cnn.py"] + b" "
    with pytest.raises(AlgorithmError):
        algorithms.verify(hospital, store, kits / "algorithm-lab", code=altered)


def test_only_the_certified_algorithm_party_can_publish(kits: Path, tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="algorithm party"):
        algorithms.publish(kits / "hospital-b", tmp_path / "registry.db")
