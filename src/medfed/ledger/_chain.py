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
F = FindingKind
_ALTERED = "the stored hash does not match the entry: its content or hash was altered"
_FORGED = "{party!r}'s key does not verify the signature: forged, or altered after signing"
_REPLAYED = "the same signed request as entry {first} was recorded again"


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


class _ChainAudit:
    """One pass over the stored rows; each ``_check_*`` adds findings located by sequence."""

    def __init__(
        self,
        rows: list[LedgerEntry | Unreadable],
        suite: Suite,
        keys: Mapping[str, VerifyKey],
        notary: str,
    ) -> None:
        self.rows, self.suite, self.keys, self.notary = rows, suite, keys, notary
        self.genesis = genesis_hash(suite.digest_size)
        self.entries = [r for r in rows if isinstance(r, LedgerEntry)]
        self.recomputed = {id(e): e.compute_hash(suite) for e in self.entries}
        # Hashes valid where they are stored; moved entries join as they are placed.
        self.known = {
            e.entry_hash: e.sequence for e in self.entries if self.recomputed[id(e)] == e.entry_hash
        }
        self.effective: dict[int, int] = {}  # id(entry) -> the sequence it was recorded at
        self.valid: dict[int, set[str]] = {}  # effective sequence -> hashes a successor may name
        self.requests: dict[bytes, int] = {}  # request digest -> first sequence holding it
        self.findings: list[Finding] = []

    def flag(self, kind: FindingKind, seq: int, party: str | None, detail: str) -> None:
        self.findings.append(Finding(kind, seq, party, detail))

    def run(self) -> list[Finding]:
        for item in self.rows:
            if isinstance(item, Unreadable):
                self.flag(F.UNREADABLE_ENTRY, item.sequence, self.notary, item.reason)
                continue
            self._check_place(item)
            self._check_signature(item)
            try:
                check_payload(item.kind, item.payload)
            except EntryRejectedError as exc:
                self.flag(F.MALFORMED_ENTRY, item.sequence, item.party, str(exc))
        self._check_order()
        self._check_links()
        return self.findings

    def _check_place(self, e: LedgerEntry) -> None:
        """The entry's content against its hash, and where it was recorded."""
        s, recomputed = e.sequence, self.recomputed[id(e)]
        original = _recorded_at(e, self.known, self.suite, self.genesis)
        if original is not None:
            self.flag(F.RENUMBERED, s, self.notary, f"stored as entry {s}, recorded as {original}")
            self.effective[id(e)] = self.known[e.entry_hash] = original
            self.valid.setdefault(original, set()).add(e.entry_hash)
            return
        self.effective[id(e)] = s
        self.valid.setdefault(s, set()).update({e.entry_hash, recomputed})
        if recomputed != e.entry_hash:
            self.flag(F.HASH_MISMATCH, s, self.notary, _ALTERED)

    def _check_signature(self, e: LedgerEntry) -> None:
        key = self.keys.get(e.party)
        if key is None:
            self.flag(F.UNKNOWN_PARTY, e.sequence, e.party, f"no verify key for {e.party!r}")
            return
        digest = e.request_digest(self.suite)
        try:
            key.verify(digest, e.signature)
        except CryptoError:
            self.flag(F.BAD_SIGNATURE, e.sequence, e.party, _FORGED.format(party=e.party))
        first = self.requests.setdefault(digest, e.sequence)
        if first != e.sequence:
            self.flag(F.REPLAYED_REQUEST, e.sequence, self.notary, _REPLAYED.format(first=first))

    def _check_order(self) -> None:
        """Gaps, duplicates and order, by effective sequence, in stored order."""
        seen: dict[int, int] = {}  # effective sequence -> stored sequence of its first holder
        highest = -1
        for item in self.rows:
            stored = item.sequence
            s = stored if isinstance(item, Unreadable) else self.effective[id(item)]
            if s in seen:
                detail = f"entry {seen[s]} was already recorded as {s}: one was inserted"
                self.flag(F.DUPLICATE_SEQUENCE, stored, self.notary, detail)
            elif s < highest and s == stored:  # a renumbered entry is reported as such
                detail = f"stored after entry {highest}: entries were reordered"
                self.flag(F.OUT_OF_ORDER, stored, self.notary, detail)
            seen.setdefault(s, stored)
            highest = max(highest, s)
        for gap in sorted(set(range(highest + 1)) - seen.keys()):
            self.flag(F.MISSING_ENTRY, gap, self.notary, f"entry {gap} is missing (deleted)")

    def _check_links(self) -> None:
        """Each entry's prev_hash against the entry recorded just before it."""
        for e in self.entries:
            s = self.effective[id(e)]
            if s == 0 and e.prev_hash != self.genesis:
                self.flag(
                    F.BROKEN_LINK, e.sequence, self.notary, "prev_hash of entry 0 is not zeros"
                )
            elif s > 0 and s - 1 in self.valid and e.prev_hash not in self.valid[s - 1]:
                detail = f"prev_hash is not entry {s - 1}'s hash: the chain was rewritten here"
                self.flag(F.BROKEN_LINK, e.sequence, self.notary, detail)


def check_chain(
    items: Iterable[LedgerEntry | Unreadable],
    suite: Suite,
    keys: Mapping[str, VerifyKey],
    *,
    notary: str,
) -> ChainResult:
    """Every ledger finding, located by sequence, for the rows in stored order.

    Unreadable rows, gaps, duplicates, order, renumbering, hashes and links name the
    ``notary`` (the record's keeper); signatures, schema and roles name the submitter.
    """
    rows = list(items)
    chain = _ChainAudit(rows, suite, keys, notary)
    findings = chain.run() + _role_findings(chain.entries)
    findings.sort(key=lambda f: (f.sequence if f.sequence is not None else -1, f.kind.value))
    return ChainResult(tuple(chain.entries), tuple(findings), _roles(chain.entries), len(rows))


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
