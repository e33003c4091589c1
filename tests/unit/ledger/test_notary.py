"""The notary: verifies the submitting party, chains the entry, signs a receipt (5.4.2.3i)."""

from __future__ import annotations

import threading

import pytest

from medfed.crypto import CryptoError
from medfed.errors import ConfigError
from medfed.ledger import (
    EntryKind,
    EntryRejectedError,
    EntryRequest,
    LedgerStore,
    Receipt,
    SubmissionRefusal,
    SubmissionRefusedError,
)
from medfed.roles import Role

from .support import TASK, World, record_study

pytestmark = pytest.mark.clause("5.4.2.3i", "5.5.1.4b")


def test_submission_is_chained_and_receipted(store: LedgerStore, world: World) -> None:
    notary = world.notary(store)
    builder = world.builder("hospital-a")
    first = builder.input(TASK, dataset_id="cxr", fingerprint="ab" * 32, timestamp=1.0)
    second = builder.anomaly(TASK, description="slow", timestamp=2.0)
    r1 = notary.submit(first.request, first.signature)
    r2 = notary.submit(second.request, second.signature)
    e1, e2 = store.get(0), store.get(1)
    assert e1 is not None and e2 is not None
    assert (r1.sequence, r1.entry_hash) == (0, e1.entry_hash)
    assert (r2.sequence, r2.entry_hash) == (1, e2.entry_hash)
    assert e1.prev_hash == "00" * world.suite.digest_size
    assert e2.prev_hash == e1.entry_hash
    assert e1.signature == first.signature and e1.payload == first.request.payload
    r1.verify(world.suite, notary.verify_key)
    assert Receipt.from_dict(r2.to_dict()) == r2


def test_receipt_does_not_verify_for_another_entry_or_key(store: LedgerStore, world: World) -> None:
    notary = world.notary(store)
    signed = world.builder("initiator").study_created(TASK, manifest_hash="ab", timestamp=1.0)
    receipt = notary.submit(signed.request, signed.signature)
    with pytest.raises(CryptoError):
        Receipt(receipt.sequence, "cd" * 32, receipt.signature).verify(
            world.suite, notary.verify_key
        )
    with pytest.raises(CryptoError):
        receipt.verify(world.suite, world.keys["initiator"])


def test_unregistered_party_is_refused(store: LedgerStore, world: World) -> None:
    notary = world.notary(store)
    request = EntryRequest(TASK, EntryKind.ANOMALY, "mallory", 1.0, {"description": "hi"})
    with pytest.raises(SubmissionRefusedError) as caught:
        notary.submit(request, world.signing["hospital-a"].sign(request.digest(world.suite)))
    assert caught.value.reason is SubmissionRefusal.UNKNOWN_PARTY
    assert len(store) == 0


def test_signature_by_another_party_is_refused(store: LedgerStore, world: World) -> None:
    notary = world.notary(store)
    request = EntryRequest(TASK, EntryKind.ANOMALY, "hospital-a", 1.0, {"description": "hi"})
    forged = world.signing["hospital-b"].sign(request.digest(world.suite))
    with pytest.raises(SubmissionRefusedError) as caught:
        notary.submit(request, forged)
    assert caught.value.reason is SubmissionRefusal.BAD_SIGNATURE
    assert len(store) == 0


def test_signature_over_another_request_is_refused(store: LedgerStore, world: World) -> None:
    notary = world.notary(store)
    signed = world.builder("hospital-a").anomaly(TASK, description="hi", timestamp=1.0)
    altered = EntryRequest(TASK, EntryKind.ANOMALY, "hospital-a", 1.0, {"description": "bye"})
    with pytest.raises(SubmissionRefusedError):
        notary.submit(altered, signed.signature)


def test_builder_refuses_raw_data_before_anything_is_signed(world: World) -> None:
    with pytest.raises(EntryRejectedError, match="raw data"):
        world.builder("hospital-a").build(
            TASK, EntryKind.ANOMALY, {"description": "x", "images": [[0, 1]]}, timestamp=1.0
        )


def test_late_party_can_register_but_not_take_a_name(store: LedgerStore, world: World) -> None:
    notary = world.notary(store)
    notary.register("hospital-a", world.keys["hospital-a"])  # same key: no-op
    with pytest.raises(ConfigError):
        notary.register("hospital-a", world.keys["hospital-b"])
    newcomer = world.suite.generate_signing_key()
    notary.register("hospital-c", newcomer.verify_key())
    request = EntryRequest(TASK, EntryKind.ANOMALY, "hospital-c", 1.0, {"description": "joined"})
    notary.submit(request, newcomer.sign(request.digest(world.suite)))
    assert "hospital-c" in notary.parties


def test_concurrent_submissions_form_one_chain(store: LedgerStore, world: World) -> None:
    notary = world.notary(store)

    def work(party: str) -> None:
        builder = world.builder(party)
        for i in range(8):
            signed = builder.anomaly(TASK, description=f"{party} {i}", timestamp=float(i))
            notary.submit(signed.request, signed.signature)

    threads = [threading.Thread(target=work, args=(h,)) for h in ("hospital-a", "hospital-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = list(store)
    assert [e.sequence for e in entries] == list(range(16))
    assert all(b.prev_hash == a.entry_hash for a, b in zip(entries, entries[1:], strict=False))


@pytest.mark.clause("5.5.1.4d")
def test_a_study_records_algorithm_inputs_process_results_and_roles(
    store: LedgerStore, world: World
) -> None:
    record_study(world, store)
    kinds = [e.kind for e in store]
    for kind in (EntryKind.ALGORITHM, EntryKind.INPUT, EntryKind.ROUND, EntryKind.RESULT):
        assert kind in kinds
    roles = {
        (e.payload["assignee"], e.payload["role"])
        for e in store
        if e.kind is EntryKind.ROLE_ASSIGNED
    }
    assert ("hospital-a", Role.DATA) in roles and ("dispatcher", Role.DISPATCHER) in roles
