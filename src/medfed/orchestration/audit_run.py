"""``medfed audit``: verify a run's evidence (5.5.1.4c).

Given a run folder it finds the notary's ledger (``…/dispatcher/ledger.db``), the kits
(each party's certificate gives the key its entries must verify with) and the nodes'
operation logs (``…/logs/<party>.operations.jsonl``), and reports every deviation with the
party responsible: a broken chain or signature, a node whose logged update differs from what
the ledger recorded for it, a round that leaves out an update a node sent.
"""

from __future__ import annotations

import json
from pathlib import Path

from medfed.core.config import load_study
from medfed.crypto import VerifyKey, get_suite
from medfed.errors import ConfigError
from medfed.ledger import AuditReport, audit, open_store, render_text
from medfed.pki import load_kit
from medfed.pki.suite_identity import SM2_CA_FILE, identity_cert_name, verify_key
from medfed.roles import Role


def _latest(paths: list[Path]) -> Path:
    if not paths:
        raise ConfigError("no ledger.db found: pass a run folder made by medfed demo, or the ledger file")
    return max(paths, key=lambda p: p.stat().st_mtime)


def audit_path(
    path: Path, *, kits: Path | None = None, logs: list[str] | None = None, as_json: bool = False
) -> tuple[AuditReport, str]:
    """The audit report for a run folder or a ledger file, and its rendering."""
    if path.is_dir():
        ledger = _latest(sorted(path.rglob("ledger.db")))
        kits = kits or path / "kits"
    else:
        ledger = path
    if kits is None or not kits.is_dir():
        raise ConfigError("the audit needs the study's kits (--kits): they hold every party's certificate")
    kit_dirs = sorted(p for p in kits.iterdir() if (p / "kit.toml").is_file())
    if not kit_dirs:
        raise ConfigError(f"no kits in {kits}")
    name = load_study(kit_dirs[0] / "study.toml").security.suite.value  # the study's suite signs the evidence
    suite = get_suite(name)
    keys: dict[str, VerifyKey] = {}
    notary = ""
    for kit_dir in kit_dirs:
        kit = load_kit(kit_dir)
        ca = kit_dir / SM2_CA_FILE
        cert = (kit_dir / identity_cert_name(name)).read_bytes()
        keys[kit.name] = verify_key(cert, name, ca_pem=ca.read_bytes() if ca.is_file() else None, name=kit.name)
        if kit.role is Role.DISPATCHER:
            notary = kit.name  # the notary runs inside the dispatcher's process
    local: dict[str, Path] = {}
    if path.is_dir():
        for log in ledger.parent.parent.glob("logs/*.operations.jsonl"):
            local[log.name.removesuffix(".operations.jsonl")] = log
    for item in logs or []:
        party, sep, file = item.partition("=")
        if not sep:
            raise ConfigError(f"--log takes PARTY=PATH, not {item!r}")
        local[party] = Path(file)
    report = audit(
        open_store(ledger), keys, suite, local_logs=local, notary_key=keys.get(notary), notary=notary or "notary"
    )
    text = json.dumps(report.to_dict(), indent=1) if as_json else render_text(report)
    return report, f"ledger: {ledger}\n{text}" if not as_json else text
