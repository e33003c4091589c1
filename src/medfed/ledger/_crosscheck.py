"""The audit of each party's operation log against the notary's ledger (5.5.1.4a, 5.5.1.4c).

What a party says it did (its own hash-chained log) is compared with what the notary
recorded. Who is named responsible:

* a log's own defects (tampered, truncated below an anchor, a forged receipt, a line in
  another party's name), a logged update digest that differs from the ROUND entry's, and
  training on data that no INPUT or live GRANT entry covers: the log's party;
* a ledger that contradicts a receipt the notary signed: the notary;
* a ROUND entry that omits an update a node logged as sent, or records one the node never
  logged: the ROUND entry's submitter (the dispatcher or aggregator).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from medfed.crypto import CryptoError, Suite, VerifyKey
from medfed.ledger.entries import LedgerEntry
from medfed.ledger.errors import EntryRejectedError
from medfed.ledger.findings import Finding, FindingKind
from medfed.ledger.notary import Receipt
from medfed.ledger.oplog import LogCheck, OpAction, OperationRecord, Outcome
from medfed.ledger.schema import EntryKind, GrantDecision

_F = FindingKind


@dataclass(frozen=True)
class LedgerIndex:
    """The ledger entries a cross-check looks up."""

    by_seq: dict[int, list[LedgerEntry]]
    rounds: dict[tuple[str, int], list[LedgerEntry]]
    inputs: set[tuple[str, str, str]]  # (task, party, fingerprint)
    grants: dict[tuple[str, str, str], list[tuple[float, float]]]  # -> (approved, revoked) at
    anchors: dict[str, list[LedgerEntry]]
    # task -> (round re-run from, when the restart was recorded), one per dispatcher restart
    restarts: dict[str, list[tuple[int, float]]] = field(default_factory=dict)


def build_index(entries: tuple[LedgerEntry, ...]) -> LedgerIndex:
    idx = LedgerIndex({}, {}, set(), {}, {})
    approvals: dict[str, tuple[tuple[str, str, str], float]] = {}
    revoked: dict[str, float] = {}
    for e in entries:
        idx.by_seq.setdefault(e.sequence, []).append(e)
        p = e.payload
        if e.kind is EntryKind.ROUND and isinstance(p.get("round"), int):
            idx.rounds.setdefault((e.task_id, p["round"]), []).append(e)
        elif e.kind is EntryKind.INPUT:
            idx.inputs.add((e.task_id, e.party, str(p.get("fingerprint"))))
        elif e.kind is EntryKind.GRANT:
            grant_id = str(p.get("grant_id"))
            if p.get("decision") == GrantDecision.APPROVED and "dataset_fingerprint" in p:
                key = (e.task_id, str(p.get("hospital")), str(p["dataset_fingerprint"]))
                approvals[grant_id] = (key, e.timestamp)
            elif p.get("decision") == GrantDecision.REVOKED:
                revoked[grant_id] = e.timestamp
        elif e.kind is EntryKind.LOG_ANCHOR:
            idx.anchors.setdefault(e.party, []).append(e)
        elif e.kind is EntryKind.ANOMALY and isinstance(p.get("resumed_at_round"), int):
            idx.restarts.setdefault(e.task_id, []).append((p["resumed_at_round"], e.timestamp))
    for grant_id, (key, at) in approvals.items():
        idx.grants.setdefault(key, []).append((at, revoked.get(grant_id, float("inf"))))
    return idx


def _covered(idx: LedgerIndex, task: str, party: str, fingerprint: str, when: float) -> bool:
    if (task, party, fingerprint) in idx.inputs:
        return True
    spans = idx.grants.get((task, party, fingerprint), [])
    return any(approved <= when < revoked for approved, revoked in spans)


def _lost_in_restart(idx: LedgerIndex, r: OperationRecord, round_no: Any) -> bool:
    """An update sent for a round that a later dispatcher restart re-ran: the crash lost it, honestly."""
    return isinstance(round_no, int) and any(
        round_no >= resumed and r.when <= at for resumed, at in idx.restarts.get(r.target, [])
    )


def _update_sent(idx: LedgerIndex, party: str, n: int, r: OperationRecord) -> list[Finding]:
    round_no, digest = r.details.get("round"), r.details.get("update_digest")
    recorded = idx.rounds.get((r.target, round_no)) if isinstance(round_no, int) else None
    if recorded and any(e.payload.get("update_digests", {}).get(party) == digest for e in recorded):
        return []
    if _lost_in_restart(idx, r, round_no):
        return []
    if not recorded:
        return [
            Finding(
                _F.UPDATE_NOT_RECORDED,
                None,
                None,
                f"{party} logged sending update {digest} for round {round_no} of "
                f"{r.target}, but the ledger has no ROUND entry for it",
                line=n,
            )
        ]
    digests = [(e, e.payload.get("update_digests", {}).get(party)) for e in recorded]
    if any(d == digest for _, d in digests):
        return []
    entry, ledger_digest = digests[0]
    if ledger_digest is None:
        return [
            Finding(
                _F.UPDATE_NOT_RECORDED,
                entry.sequence,
                entry.party,
                f"{party} logged sending update {digest} for round {round_no}, but "
                f"the ROUND entry by {entry.party} omits it",
                line=n,
            )
        ]
    return [
        Finding(
            _F.UPDATE_MISMATCH,
            entry.sequence,
            party,
            f"{party}'s log says it sent update {digest} for round {round_no} of "
            f"{r.target}; the ledger (ROUND entry by {entry.party}) records "
            f"{ledger_digest}",
            line=n,
        )
    ]


def _submission(
    idx: LedgerIndex,
    party: str,
    n: int,
    r: OperationRecord,
    suite: Suite,
    notary_key: VerifyKey | None,
    notary: str,
) -> list[Finding]:
    raw: Mapping[str, Any] = {**r.details, "signature": r.details.get("receipt_signature", "")}
    try:
        receipt = Receipt.from_dict(raw)
    except EntryRejectedError as exc:
        return [Finding(_F.FORGED_RECEIPT, None, party, f"unreadable receipt: {exc}", line=n)]
    if notary_key is not None:
        try:
            receipt.verify(suite, notary_key)
        except CryptoError:
            return [
                Finding(
                    _F.FORGED_RECEIPT,
                    receipt.sequence,
                    party,
                    f"{party} logged a receipt for entry {receipt.sequence} that the "
                    "notary never signed",
                    line=n,
                )
            ]
    held = idx.by_seq.get(receipt.sequence, [])
    if any(e.entry_hash == receipt.entry_hash and e.party == party for e in held):
        return []
    what = "lacks" if not held else "holds another entry than"
    checked = "a signed receipt" if notary_key is not None else "an (unverified) receipt"
    return [
        Finding(
            _F.RECEIPT_MISMATCH,
            receipt.sequence,
            notary,
            f"the ledger {what} entry {receipt.sequence} with hash {receipt.entry_hash}, "
            f"for which {party} holds {checked}",
            line=n,
        )
    ]


def check_log(
    party: str,
    log: LogCheck,
    idx: LedgerIndex,
    suite: Suite,
    notary_key: VerifyKey | None,
    notary: str,
) -> list[Finding]:
    """Findings for one party's log: its chain, its anchors, and each cross-checked action."""
    found = [Finding(_F.LOG_TAMPERED, None, party, p.detail, line=p.line) for p in log.problems]
    for anchor in idx.anchors.get(party, []):
        lines, head = anchor.payload.get("lines"), anchor.payload.get("log_head")
        if not isinstance(lines, int) or lines < 1:
            continue
        if len(log.line_hashes) < lines:
            found.append(
                Finding(
                    _F.LOG_TRUNCATED,
                    anchor.sequence,
                    party,
                    f"the log has {len(log.line_hashes)} lines; entry "
                    f"{anchor.sequence} anchored it at {lines}",
                )
            )
        elif log.line_hashes[lines - 1] != head:
            found.append(
                Finding(
                    _F.LOG_TAMPERED,
                    anchor.sequence,
                    party,
                    f"line {lines} differs from what entry {anchor.sequence} anchored",
                    line=lines,
                )
            )
    for n, r in log.records:
        if r.who != party:
            found.append(
                Finding(
                    _F.LOG_WRONG_PARTY,
                    None,
                    party,
                    f"a line in {party}'s log is written as {r.who!r}",
                    line=n,
                )
            )
        if r.outcome is not Outcome.OK:
            continue
        if r.action == OpAction.UPDATE_SENT:
            found.extend(_update_sent(idx, party, n, r))
        elif r.action == OpAction.TRAIN:
            fp = str(r.details.get("dataset_fingerprint"))
            if not _covered(idx, r.target, party, fp, r.when):
                found.append(
                    Finding(
                        _F.UNCOVERED_DATA,
                        None,
                        party,
                        f"{party} trained on dataset {fp} in {r.target}, which no "
                        "INPUT entry or live GRANT entry covers",
                        line=n,
                    )
                )
        elif r.action == OpAction.LEDGER_SUBMIT:
            found.extend(_submission(idx, party, n, r, suite, notary_key, notary))
    return found


def check_unlogged_updates(idx: LedgerIndex, logs: Mapping[str, LogCheck]) -> list[Finding]:
    """ROUND entries that record an update from a node whose log never sent it."""
    sent = {
        (party, r.target, r.details.get("round"))
        for party, log in logs.items()
        for _, r in log.records
        if r.action == OpAction.UPDATE_SENT and r.outcome is Outcome.OK
    }
    # Sent, but the connection broke before the acknowledgement (a dispatcher killed mid-round):
    # it may have arrived, and then the ledger holds exactly this digest.
    unconfirmed = {
        (party, r.target, r.details.get("round"), r.details.get("update_digest"))
        for party, log in logs.items()
        for _, r in log.records
        if r.action == OpAction.UPDATE_SENT and r.outcome is Outcome.FAILED
    }
    found: list[Finding] = []
    for (task, round_no), entries in idx.rounds.items():
        for e in entries:
            for node, digest in e.payload.get("update_digests", {}).items():
                if (node, task, round_no, digest) in unconfirmed:
                    continue
                if node in logs and (node, task, round_no) not in sent:
                    found.append(
                        Finding(
                            _F.UPDATE_NOT_LOGGED,
                            e.sequence,
                            e.party,
                            f"{e.party} recorded an update from {node} for round "
                            f"{round_no} of {task} that {node}'s log never sent",
                        )
                    )
    return found
