"""The deployment tests' session fixtures, shared (same trained run, kits, bundles and caches)."""

from __future__ import annotations

from deployment.conftest import (  # tests/unit is on sys.path: both folders are packages there
    builders,
    deploy_base,
    export_16x,
    export_fp32,
    export_gm,
    export_int8,
    kits_gm,
    kits_intl,
    run_dir,
)

__all__ = [
    "builders",
    "deploy_base",
    "export_16x",
    "export_fp32",
    "export_gm",
    "export_int8",
    "kits_gm",
    "kits_intl",
    "run_dir",
]
