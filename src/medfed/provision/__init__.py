"""Provisioning: a study file becomes a CA and one startup kit per party."""

from __future__ import annotations

from medfed.provision.study import provision_study

__all__ = ["provision_study"]
