"""Evaluation: metrics of the federated model against the central one, and the HTML report.

Pure: numpy, scikit-learn and matplotlib only; no torch, no network. Names load on
first use, so a hospital node that needs only :mod:`medfed.evaluation.ranking` does not
pay for importing scikit-learn and matplotlib at start-up.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Metrics": "metrics",
    "classification_metrics": "metrics",
    "compare": "metrics",
    "ks_curve": "metrics",
    "roc_points": "metrics",
    "render_report": "report",
    "write_report": "report",
    "comparison_rows": "table",
    "macro_auc": "ranking",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'medfed.evaluation' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"medfed.evaluation.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
