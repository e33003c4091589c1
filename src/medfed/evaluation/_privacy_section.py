"""The report's privacy section: mechanism, ε spent per hospital per round, attack results."""

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
    attack_html = _attack_html(attack) if isinstance(attack, dict) else ""
    return section("privacy", "Privacy", settings + spent + attack_html)


def _attack_html(attack: dict[str, Any]) -> str:
    """Both membership-inference attacks side by side, scored on the same records."""
    records = attack.get("records")
    rows = [["loss threshold", _fmt(attack.get("auc")), _fmt(attack.get("advantage")), str(records)]]
    notes = [
        f"Membership inference against the federated model: hospital training records (members) "
        f"against {attack.get('nonmembers', 'held-out')} records (non-members), equal numbers of "
        "each. Loss threshold (Yeom et al. 2018): advantage at the best loss threshold in "
        "hindsight, an upper bound on what an attacker achieves."
    ]
    shadow = attack.get("shadow")
    if isinstance(shadow, dict) and "skipped" in shadow:
        notes.append(f"Shadow-model attack skipped: {shadow['skipped']}.")
    elif isinstance(shadow, dict):
        count = shadow.get("shadow_models")
        rows.append(
            [f"shadow models ({count})", _fmt(shadow.get("auc")), _fmt(shadow.get("advantage")), str(records)]
        )
        notes.append(
            f"Shadow models (Shokri et al. 2017): {count} models trained with the study's recipe "
            f"({shadow.get('recipe', 'plain')}) on {shadow.get('shadow_records')} test-split records "
            "the attacker is assumed to own, none of them attacked; a classifier of their outputs "
            "is applied to the federated model. Its advantage is at the decision learned from "
            "the shadows alone, without hindsight."
        )
    head = ["Attack", "AUC (0.5 = chance)", "Advantage", "Records"]
    return table(head, rows) + "".join(note(text) for text in notes)
