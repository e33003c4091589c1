"""The report's privacy section: mechanism, ε spent per hospital per round, attack result."""

from __future__ import annotations

from typing import Any

from medfed.evaluation._html import note, section, table


def _fmt(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def privacy_section(results: dict[str, Any]) -> str:
    privacy = results.get("privacy")
    if not isinstance(privacy, dict):
        return ""
    settings = table(
        ["Setting", "Value"],
        [
            ["mechanism", str(privacy.get("mechanism", "none"))],
            ["secure aggregation", "yes" if privacy.get("secure_aggregation") else "no"],
            ["noise multiplier", _fmt(privacy.get("noise_multiplier"))],
            ["clip norm", _fmt(privacy.get("clip_norm"))],
            ["δ", _fmt(privacy.get("delta"), 7)],
            ["ε (largest over hospitals, at the end)", _fmt(privacy.get("epsilon"))],
        ],
    )
    per_round = privacy.get("per_round") or []
    hospitals = sorted({h for r in per_round for h in (r.get("epsilon") or {})})
    spent = (
        table(
            ["Round", *hospitals],
            [[str(r["round"]), *[_fmt((r.get("epsilon") or {}).get(h)) for h in hospitals]] for r in per_round],
        )
        if hospitals
        else note("No differential privacy in this study: no ε is accounted.")
    )
    attack = privacy.get("membership_inference")
    attack_html = (
        table(
            ["Attack", "AUC (0.5 = chance)", "Advantage", "Records"],
            [[str(attack.get("attack")), _fmt(attack.get("auc")), _fmt(attack.get("advantage")), str(attack.get("records"))]],
        )
        + note("Loss-threshold membership inference against the federated model: hospital training "
               "records (members) against the test split (non-members), equal numbers of each.")
        if isinstance(attack, dict)
        else ""
    )
    return section("privacy", "Privacy", settings + spent + attack_html)
