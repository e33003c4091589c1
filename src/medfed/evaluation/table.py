"""The federated-vs-centralized comparison as rows of text, shared by the terminal and HTML.

Each row is ``(metric, federated, centralized, |Δ|)``, all already formatted, for AUC, KS,
accuracy and training time. |Δ| is taken from ``results["delta"]`` when the run recorded
it, otherwise computed from the two values.
"""

from __future__ import annotations

from typing import Any

from medfed.evaluation import _format

# (key in results, label shown); the order is the order of the table.
METRICS: tuple[tuple[str, str], ...] = (("auc", "AUC"), ("ks", "KS"), ("accuracy", "Accuracy"))

# Pass/fail bars: the standard's |Δ| < 0.05 on each metric (Appendix A.1, read with clause
# 5.5.2-2 for accuracy); the project's own targets are |ΔAUC| < 0.02 and |ΔKS| < 0.05.
STANDARD_BAR = 0.05
TARGETS: dict[str, float] = {"auc": 0.02, "ks": 0.05}


def comparison_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows ``(metric, federated, centralized, |Δ|)``; missing figures show as a dash."""
    federated = _section(results, "federated")
    centralized = _section(results, "centralized")
    rows = [
        (
            label,
            _format.fixed(federated.get(key)),
            _format.fixed(centralized.get(key)),
            _format.fixed(metric_delta(results, key)),
        )
        for key, label in METRICS
    ]
    # Time has no pass/fail bar, and a difference in seconds says less than the two values.
    rows.append(
        (
            "Training time",
            _format.seconds(federated.get("seconds")),
            _format.seconds(centralized.get("seconds")),
            _format.MISSING,
        )
    )
    return rows


def metric_delta(results: dict[str, Any], key: str) -> float | None:
    """|federated - centralized| for ``key``: recorded value first, else computed; ``None``
    when neither is available."""
    recorded = _format.number(_section(results, "delta").get(key))
    if recorded is not None:
        return abs(recorded)
    fed = _format.number(_section(results, "federated").get(key))
    cen = _format.number(_section(results, "centralized").get(key))
    if fed is None or cen is None:
        return None
    return abs(fed - cen)


# Appendix A.1 sets its bar on AUC and KS only; accuracy is reported, not judged.
STANDARD_METRICS = frozenset({"auc", "ks"})


def meets_standard(delta: float | None, key: str = "auc") -> bool | None:
    """|Δ| < the standard's bar; ``None`` when the bar does not apply or |Δ| is undefined."""
    if key not in STANDARD_METRICS or delta is None or not _format.is_real(delta):
        return None
    return delta < STANDARD_BAR


def meets_target(key: str, delta: float | None) -> bool | None:
    """|Δ| < the project's target for ``key``; ``None`` when there is no target or no |Δ|."""
    if key not in TARGETS or delta is None or not _format.is_real(delta):
        return None
    return delta < TARGETS[key]


def _section(results: dict[str, Any], name: str) -> dict[str, Any]:
    value = results.get(name)
    return value if isinstance(value, dict) else {}
