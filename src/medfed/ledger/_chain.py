"""The audit of the ledger itself: hash chain, order, signatures, schema, roles.

Each readable entry gets an *effective* sequence: normally the stored one, but when its
stored hash is valid for another sequence (the one after the entry its ``prev_hash``
names), the entry was moved or renumbered, and it is checked where it was recorded. That
turns a swap, or a deletion followed by renumbering, into one precise finding per entry
touched instead of a cascade of broken links.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from medfed.crypto import CryptoError, Suite, VerifyKey
from medfed.ledger._canonical import genesis_hash
from medfed.ledger.entries import LedgerEntry
from medfed.ledger.errors import EntryRejectedError
from medfed.ledger.findings import Finding, FindingKind, RoleRecord
from medfed.ledger.schema import EntryKind, check_payload
from medfed.ledger.store import Unreadable

# Kinds whose submitter acts in the task, so must hold a role there once roles are recorded.
_ACTING = frozenset(
    {EntryKind.ALGORITHM, EntryKind.INPUT, EntryKind.GRANT, EntryKind.ROUND, EntryKind.RESULT}
)


@dataclass(frozen=True)
class ChainResult:
    entries: tuple[LedgerEntry, ...]  # readable entries, in stored order
    findings: tuple[Finding, ...]
    roles: tuple[RoleRecord, ...]
    count: int  # stored rows, readable or not


_WINDOW = 8  # how far from its stored place a moved entry is looked for


def _recorded_at(
    entry: LedgerEntry, known: Mapping[str, int], suite: Suite, genesis: str
) -> int | None:
    """The sequence ``entry``'s stored hash is valid for, when that is not the stored one.

    Tried first: one after the entry its ``prev_hash`` names (any distance); then the
    sequences within ``_WINDOW`` of the stored one (a swap, or a renumbering after a
    deletion whose predecessor is gone).
    """
    s = entry.sequence
    candidates: list[int] = [0] if entry.prev_hash == genesis else []
    if entry.prev_hash in known:
        candidates.append(known[entry.prev_hash] + 1)
    candidates += [s + d for k in range(1, _WINDOW + 1) for d in (k, -k)]
    for c in candidates:
        if c >= 0 and c != s and entry.compute_hash(suite, sequence=c) == entry.entry_hash:
            return c
    return None


def check_chain(
    items: Iterable[LedgerEntry | Unreadable],
    suite: Suite,
    keys: Mapping[str, VerifyKey],
    *,
    notary: str,
) -> ChainResult:
    """Every ledger finding, located by sequence, for the rows in stored order."""
    rows = list(items)
    genesis = genesis_hash(suite.digest_size)
    entries = [r for r in rows if isinstance(r, LedgerEntry)]
    recomputed = {id(e): e.compute_hash(suite) for e in entries}
    # Hashes valid where they are stored; moved entries join as they are placed.
    known = {e.entry_hash: e.sequence for e in entries if recomputed[id(e)] == e.entry_hash}
    findings: list[Finding] = []

    def flag(kind: FindingKind, seq: int | None, party: str | None, detail: str) -> None:
        findings.append(Finding(kind, seq, party, detail))

    # 1. Each entry on its own: content against hash, signature, schema, replays.
    effective: dict[int, int] = {}  # id(entry) -> the sequence it was recorded at
    valid_hashes: dict[int, set[str]] = {}  # effective sequence -> hashes a successor may name
    requests: dict[bytes, int] = {}
    for item in rows:
        if isinstance(item, Unreadable):
            flag(FindingKind.UNREADABLE_ENTRY, item.sequence, notary, item.reason)
            continue
        s = item.sequence
        original = _recorded_at(item, known, suite, genesis)
        if original is not None:
            flag(
                FindingKind.RENUMBERED,
                s,
                notary,
                f"stored as entry {s} but recorded as entry {original}",
            )
            effective[id(item)] = original
            known[item.entry_hash] = original
            valid_hashes.setdefault(original, set()).add(item.entry_hash)
        else:
            effective[id(item)] = s
            valid_hashes.setdefault(s, set()).update({item.entry_hash, recomputed[id(item)]})
            if recomputed[id(item)] != item.entry_hash:
                flag(
                    FindingKind.HASH_MISMATCH,
                    s,
                    notary,
                    "the stored hash does not match the entry: its content or hash was altered",
                )
        key = keys.get(item.party)
        if key is None:
            flag(
                FindingKind.UNKNOWN_PARTY,
                s,
                item.party,
                f"no verify key for {item.party!r}, who is named as the submitter",
            )
        else:
            digest = item.request_digest(suite)
            try:
                key.verify(digest, item.signature)
            except CryptoError:
                flag(
                    FindingKind.BAD_SIGNATURE,
                    s,
                    item.party,
                    f"{item.party!r}'s key does not verify the signature: forged, or the "
                    "entry was altered after signing",
                )
            if digest in requests:
                flag(
                    FindingKind.REPLAYED_REQUEST,
                    s,
                    notary,
                    f"the same signed request as entry {requests[digest]} was recorded again",
                )
            requests.setdefault(digest, s)
        try:
            check_payload(item.kind, item.payload)
        except EntryRejectedError as exc:
            flag(FindingKind.MALFORMED_ENTRY, s, item.party, str(exc))

    # 2. Order, gaps and duplicates, by effective sequence in stored order.
    seen: dict[int, int] = {}  # effective sequence -> stored sequence of its first holder
    highest = -1
    for item in rows:
        stored = item.sequence
        s = stored if isinstance(item, Unreadable) else effective[id(item)]
        if s in seen:
            flag(
                FindingKind.DUPLICATE_SEQUENCE,
                stored,
                notary,
                f"entry {seen[s]} was already recorded as sequence {s}: one was inserted",
            )
        elif s < highest and s == stored:  # a renumbered entry is reported as such
            flag(
                FindingKind.OUT_OF_ORDER,
                stored,
                notary,
                f"stored after entry {highest}: entries were reordered",
            )
        seen.setdefault(s, stored)
        highest = max(highest, s)
    for missing in sorted(set(range(highest + 1)) - seen.keys()):
        flag(FindingKind.MISSING_ENTRY, missing, notary, f"entry {missing} is missing (deleted)")

    # 3. Links: each entry's prev_hash against the entry recorded just before it.
    for entry in entries:
        s = effective[id(entry)]
        if s == 0:
            if entry.prev_hash != genesis:
                flag(
                    FindingKind.BROKEN_LINK,
                    entry.sequence,
                    notary,
                    "the first entry's prev_hash is not all zeros",
                )
        elif s - 1 in valid_hashes and entry.prev_hash not in valid_hashes[s - 1]:
            flag(
                FindingKind.BROKEN_LINK,
                entry.sequence,
                notary,
                f"prev_hash does not match entry {s - 1}'s hash: the chain was rewritten here",
            )

    findings.extend(_role_findings(entries))
    findings.sort(key=lambda f: (f.sequence if f.sequence is not None else -1, f.kind.value))
    return ChainResult(tuple(entries), tuple(findings), _roles(entries), len(rows))


def _roles(entries: Iterable[LedgerEntry]) -> tuple[RoleRecord, ...]:
    return tuple(
        RoleRecord(
            e.task_id, str(e.payload.get("assignee")), str(e.payload.get("role")), e.sequence
        )
        for e in entries
        if e.kind is EntryKind.ROLE_ASSIGNED
    )


def _role_findings(entries: list[LedgerEntry]) -> list[Finding]:
    """Parties acting in a task without a recorded role there (only for tasks with roles)."""
    assigned: dict[str, set[str]] = {}
    for role in _roles(entries):
        assigned.setdefault(role.task_id, set()).add(role.party)
    found: list[Finding] = []
    for e in entries:
        holders = assigned.get(e.task_id)
        if holders is None or e.kind not in _ACTING:
            continue
        if e.party not in holders:
            found.append(
                Finding(
                    FindingKind.UNASSIGNED_PARTY,
                    e.sequence,
                    e.party,
                    f"submitted a {e.kind.value} entry in {e.task_id} without a role there",
                )
            )
        if e.kind is EntryKind.ROUND:
            for p in e.payload.get("participants", []):
                if p not in holders:
                    found.append(
                        Finding(
                            FindingKind.UNASSIGNED_PARTY,
                            e.sequence,
                            str(p),
                            f"took part in round {e.payload.get('round')} of "
                            f"{e.task_id} without a role there",
                        )
                    )
    return found
