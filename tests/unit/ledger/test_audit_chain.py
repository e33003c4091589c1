"""The audit of the ledger: every tampering is detected and located (5.5.1.4c, 5.4.2.3i).

Store-level tampering runs against both backends (raw SQL for SQLite) and both suites.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from medfed.ledger import (
    EntryRequest,
    FindingKind,
    InMemoryLedgerStore,
    LedgerEntry,
    LedgerStore,
    audit,
)
from medfed.ledger.schema import EntryKind

from .support import TASK, Tamper, World, flip_hex, record_study, update_digest

pytestmark = pytest.mark.clause("5.5.1.4c", "5.4.2.3i")

K = 11  # round 0, submitted by the dispatcher
F = FindingKind


def _located(world: World, ledger: object) -> set[tuple[FindingKind, int | None]]:
    report = audit(ledger, world.keys, world.suite)  # type: ignore[arg-type]
    return {(f.kind, f.sequence) for f in report.findings}


def _flip_payload(t: Tamper) -> None:
    text = str(t.get(K, "payload"))
    t.set(K, "payload", flip_hex(text, text.index(update_digest("hospital-b", 0)) + 9))


STORE_TAMPERING: dict[str, tuple[Callable[[Tamper], None], set[tuple[FindingKind, int]]]] = {
    "payload_byte": (_flip_payload, {(F.HASH_MISMATCH, K), (F.BAD_SIGNATURE, K)}),
    "hash_byte": (
        lambda t: t.set(K, "entry_hash", flip_hex(str(t.get(K, "entry_hash")), 7)),
        {(F.HASH_MISMATCH, K)},
    ),
    "signature_byte": (
        lambda t: t.set(K, "signature", flip_hex(str(t.get(K, "signature")), 20)),
        {(F.BAD_SIGNATURE, K)},
    ),
    "prev_hash_byte": (
        lambda t: t.set(K, "prev_hash", flip_hex(str(t.get(K, "prev_hash")), 0)),
        {(F.HASH_MISMATCH, K), (F.BROKEN_LINK, K)},
    ),
    "timestamp": (
        lambda t: t.set(K, "timestamp", float(t.get(K, "timestamp")) + 1),  # type: ignore[arg-type]
        {(F.HASH_MISMATCH, K), (F.BAD_SIGNATURE, K)},
    ),
    "deleted": (lambda t: t.delete(K), {(F.MISSING_ENTRY, K)}),
    "two_swapped": (lambda t: t.swap(K, K + 1), {(F.RENUMBERED, K), (F.RENUMBERED, K + 1)}),
    "garbled": (lambda t: t.set(K, "payload", "{garbled"), {(F.UNREADABLE_ENTRY, K)}),
}


def test_a_clean_ledger_audits_clean(any_world: World, store: LedgerStore) -> None:
    record_study(any_world, store)
    report = audit(store, any_world.keys, any_world.suite)
    assert report.ok, report.findings
    assert report.entries == 15 and report.suite == any_world.suite.name


@pytest.mark.parametrize("case", sorted(STORE_TAMPERING))
def test_tampering_with_a_stored_entry_is_detected_and_located(
    any_world: World, store: LedgerStore, tamper: Tamper, case: str
) -> None:
    record_study(any_world, store)
    change, expected = STORE_TAMPERING[case]
    change(tamper)
    report = audit(store, any_world.keys, any_world.suite)
    assert {(f.kind, f.sequence) for f in report.findings} == expected
    for f in report.findings:
        # Signatures name the signer whose key fails; the chain names its keeper.
        assert f.party == ("dispatcher" if f.kind is F.BAD_SIGNATURE else "notary")


# -- tampering with the sequence of entries handed to the audit ------------------------------


def _entries(world: World) -> list[LedgerEntry]:
    store = InMemoryLedgerStore()
    record_study(world, store)
    return list(store)


def _rechain(world: World, entries: list[LedgerEntry], start: int) -> list[LedgerEntry]:
    """Recompute hashes and links from ``start`` on, as a notary rewriting history would."""
    out = entries[:start]
    for e in entries[start:]:
        e = replace(e, sequence=len(out), prev_hash=out[-1].entry_hash if out else "00" * 32)
        out.append(e.rehashed(world.suite))
    return out


def test_reordered_entries_are_located(any_world: World) -> None:
    entries = _entries(any_world)
    entries[K], entries[K + 1] = entries[K + 1], entries[K]
    assert _located(any_world, entries) == {(F.OUT_OF_ORDER, K)}


def test_inserted_entry_is_located(any_world: World) -> None:
    entries = _entries(any_world)
    request = EntryRequest(TASK, EntryKind.ANOMALY, "hospital-b", 1.0, {"description": "x"})
    signature = any_world.signing["hospital-b"].sign(request.digest(any_world.suite))
    inserted = LedgerEntry.chain(
        request, signature, sequence=K, prev_hash=entries[K - 1].entry_hash, suite=any_world.suite
    )
    entries.insert(K, inserted)
    assert _located(any_world, entries) == {(F.DUPLICATE_SEQUENCE, K)}


def test_deletion_hidden_by_renumbering_is_located(any_world: World) -> None:
    entries = _entries(any_world)
    renumbered = entries[:K] + [replace(e, sequence=e.sequence - 1) for e in entries[K + 1 :]]
    expected = {(F.MISSING_ENTRY, K)} | {(F.RENUMBERED, s) for s in range(K, 14)}
    assert _located(any_world, renumbered) == expected


def test_content_rewritten_and_rechained_is_caught_by_the_signature(any_world: World) -> None:
    entries = _entries(any_world)
    payload = {**entries[K].payload, "epsilon_spent": 0.01}
    entries[K] = replace(entries[K], payload=payload)
    report = audit(_rechain(any_world, entries, K), any_world.keys, any_world.suite)
    assert [(f.kind, f.sequence, f.party) for f in report.findings] == [
        (F.BAD_SIGNATURE, K, "dispatcher")
    ]


def test_forged_signature_names_the_party_whose_key_does_not_verify(any_world: World) -> None:
    entries = _entries(any_world)
    request = EntryRequest(
        TASK, EntryKind.INPUT, "hospital-a", 1.0, {"dataset_id": "x", "fingerprint": "ee"}
    )
    forged = any_world.signing["hospital-b"].sign(request.digest(any_world.suite))
    entries.append(
        LedgerEntry.chain(
            request, forged, sequence=15, prev_hash=entries[-1].entry_hash, suite=any_world.suite
        )
    )
    report = audit(entries, any_world.keys, any_world.suite)
    assert [(f.kind, f.sequence, f.party) for f in report.findings] == [
        (F.BAD_SIGNATURE, 15, "hospital-a")
    ]


def test_unknown_party_replay_and_malformed_entries_are_reported(world: World) -> None:
    entries = _entries(world)
    suite = world.suite
    replayed = LedgerEntry.chain(
        EntryRequest(
            **{
                k: getattr(entries[9], k)
                for k in ("task_id", "kind", "party", "timestamp", "payload")
            }
        ),
        entries[9].signature,
        sequence=15,
        prev_hash=entries[-1].entry_hash,
        suite=suite,
    )
    entries.append(replayed)
    stranger = LedgerEntry.from_dict(
        {
            **entries[13].to_dict(),
            "sequence": 16,
            "party": "mallory",
            "prev_hash": replayed.entry_hash,
        }
    ).rehashed(suite)
    entries.append(stranger)
    leaky = LedgerEntry.from_dict(
        {
            **entries[13].to_dict(),
            "sequence": 17,
            "payload": {"model_hash": "ab", "metrics": {}, "labels": [0, 1]},
            "prev_hash": stranger.entry_hash,
        }
    ).rehashed(suite)
    entries.append(leaky)
    found = {(f.kind, f.sequence, f.party) for f in audit(entries, world.keys, suite).findings}
    assert found == {
        (F.REPLAYED_REQUEST, 15, "notary"),
        (F.UNKNOWN_PARTY, 16, "mallory"),
        (F.UNASSIGNED_PARTY, 16, "mallory"),
        (F.MALFORMED_ENTRY, 17, "dispatcher"),
        (F.BAD_SIGNATURE, 17, "dispatcher"),
    }


@pytest.mark.clause("5.5.1.4d")
def test_party_acting_without_a_role_in_the_task_is_reported(world: World) -> None:
    entries = [
        e
        for e in _entries(world)
        if not (e.kind is EntryKind.ROLE_ASSIGNED and e.payload["assignee"] == "hospital-b")
    ]
    entries = _rechain(world, entries, 0)
    # Rechaining invalidates nothing the parties signed, so only the role gap remains.
    found = {(f.kind, f.party) for f in audit(entries, world.keys, world.suite).findings}
    assert found == {(F.UNASSIGNED_PARTY, "hospital-b")}
    report = audit(_entries(world), world.keys, world.suite)
    assert {(r.party, r.role) for r in report.roles} >= {
        ("hospital-a", "data"),
        ("hospital-b", "data"),
    }
