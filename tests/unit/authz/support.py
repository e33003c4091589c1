"""Shared values for authorization tests: a clock and request builders."""

from __future__ import annotations

from dataclasses import replace

from medfed.authz import GrantRequest

NOW = 1_700_000_000.0
DAY = 86_400.0
HOSPITAL = "hospital-a"
OTHER_HOSPITAL = "hospital-b"
ALGORITHM_HASH = "a1" * 32


def grant_request(**changes: object) -> GrantRequest:
    """A valid request for hospital-a's dataset, valid for a week; ``changes`` override fields."""
    base = GrantRequest(
        task_id="task-1",
        study_id="study-1",
        requester="initiator-1",
        hospital=HOSPITAL,
        dataset_id="chest-xray-2024",
        dataset_fingerprint="f0" * 32,
        algorithm_hash=ALGORITHM_HASH,
        purpose="training",
        expires_at=NOW + 7 * DAY,
    )
    return replace(base, **changes)  # type: ignore[arg-type]
