"""Who logged in: what every successful user authentication returns."""

from __future__ import annotations

from dataclasses import dataclass

from medfed.authn.audit import Credential
from medfed.roles import Role


@dataclass(frozen=True)
class Principal:
    """An authenticated person (or party) of ``study_id`` acting as ``role``."""

    name: str
    role: Role
    study_id: str
    method: Credential
