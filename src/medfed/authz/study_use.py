"""What a federated study asks of each hospital, derived the same way by every party.

The dispatcher turns these into data-use applications and checks the grants each round; a
hospital node derives them again from its own copy of the study and its own installed code,
so a grant cannot be stretched to another task, dataset or algorithm without the node noticing.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources

from medfed.authz.algorithms import code_hash_of
from medfed.authz.grants import GrantRequest
from medfed.core.config import StudyConfig
from medfed.crypto import Suite

DAY = 86_400.0
# The code that touches a hospital's records: model definitions and the local training loop.
_ALGORITHM_FILES = (
    "models/__init__.py",
    "models/cnn.py",
    "models/linear.py",
    "models/registry.py",
    "models/state.py",
    "training/local.py",
    "training/dp_sgd.py",
    "training/predict.py",
)


def task_id(study: StudyConfig) -> str:
    return task_of(study.study_id)


def task_of(study_id: str) -> str:
    """The training task of a study (one per study for now)."""
    return f"{study_id}/train"


def dataset_id(study: StudyConfig, hospital: str) -> str:
    return f"{study.data.dataset}@{hospital}"


def algorithm_code() -> dict[str, bytes]:
    """The installed algorithm package: relative path -> bytes, as this party would run it."""
    root = resources.files("medfed")
    return {name: root.joinpath(name).read_bytes() for name in _ALGORITHM_FILES}


def algorithm_hash(study: StudyConfig, suite: Suite, code: Mapping[str, bytes] | None = None) -> str:
    """The code hash a grant names: the model and training code, in the study's suite."""
    return code_hash_of(dict(code) if code is not None else algorithm_code(), suite=suite)


def grant_request(study: StudyConfig, hospital: str, requester: str, suite: Suite, *, now: float) -> GrantRequest:
    """The data-use application for ``hospital``'s share of the study."""
    return GrantRequest(
        task_id=task_id(study),
        study_id=study.study_id,
        requester=requester,
        hospital=hospital,
        dataset_id=dataset_id(study, hospital),
        dataset_fingerprint="registered-at-hospital",  # checked by the node against its own file
        algorithm_hash=algorithm_hash(study, suite),
        purpose=study.security.purpose,
        expires_at=now + study.security.grant_days * DAY,
    )
