"""Evaluation: metrics of the federated model against the central one, and the HTML report.

Pure: numpy, scikit-learn and matplotlib only; no torch, no network.
"""

from medfed.evaluation.metrics import Metrics, classification_metrics, compare, ks_curve, roc_points
from medfed.evaluation.report import render_report, write_report
from medfed.evaluation.table import comparison_rows

__all__ = [
    "Metrics",
    "classification_metrics",
    "compare",
    "comparison_rows",
    "ks_curve",
    "render_report",
    "roc_points",
    "write_report",
]
