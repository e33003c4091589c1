"""Local operation logs against the notary's ledger: the party that broke the agreement is named
(5.5.1.4a, 5.5.1.4c)."""

from __future__ import annotations

from pathlib import Path

import pytest

from medfed.ledger import (
    FindingKind,
    GrantDecision,
    InMemoryLedgerStore,
    OpAction,
    OperationLog,
    audit,
)
from medfed.roles import Role

from .support import (
    FINGERPRINT,
    TASK,
    MemoryTamper,
    World,
    record_study,
    update_digest,
)

pytestmark = pytest.mark.clause("5.5.1.4c", "5.5.1.4a")
F = FindingKind


def _audit(world: World, store: InMemoryLedgerStore, **logs: object) -> set[tuple[object, ...]]:
    local = {**world.logs, **{k.replace("_", "-"): v for k, v in logs.items()}}
    report = audit(store, world.keys, world.suite, local_logs=local, notary_key=world.notary_key)  # type: ignore[arg-type]
    return {(f.kind, f.sequence, f.party, f.line) for f in report.findings}


def _line_of(log: OperationLog, action: str, **details: object) -> int:
    for n, line in enumerate(log.raw_lines(), start=1):
        if f'"action":"{action}"'.encode() in line and all(
            f'"{k}":{v!r}'.replace("'", '"').encode() in line for k, v in details.items()
        ):
            return n
    raise AssertionError(f"no {action} line with {details}")


@pytest.mark.clause("5.5.1.4b", "5.5.1.4d")
def test_study_with_consistent_logs_audits_clean(any_world: World) -> None:
    store = InMemoryLedgerStore()
    record_study(any_world, store)
    report = audit(
        store,
        any_world.keys,
        any_world.suite,
        local_logs=any_world.logs,
        notary_key=any_world.notary_key,
    )
    assert report.ok, report.findings
    assert report.logs == ("hospital-a", "hospital-b")


def test_update_digest_that_differs_from_the_round_entry_names_the_node(world: World) -> None:
    store = InMemoryLedgerStore()
    record_study(world, store, recorded={("hospital-b", 1): "ee" * 32})
    line = _line_of(world.logs["hospital-b"], OpAction.UPDATE_SENT, round=1)
    assert _audit(world, store) == {(F.UPDATE_MISMATCH, 12, "hospital-b", line)}


def test_update_left_out_of_the_round_entry_names_its_submitter(world: World) -> None:
    store = InMemoryLedgerStore()
    record_study(world, store, recorded={("hospital-a", 1): None})
    line = _line_of(world.logs["hospital-a"], OpAction.UPDATE_SENT, round=1)
    assert _audit(world, store) == {(F.UPDATE_NOT_RECORDED, 12, "dispatcher", line)}


def test_update_recorded_but_never_sent_names_the_round_submitter(world: World) -> None:
    store = InMemoryLedgerStore()
    record_study(world, store)
    log_b = OperationLog(None, world.suite, party="hospital-b", role=Role.DATA)
    log_b.record_training(TASK, dataset_fingerprint=FINGERPRINT["hospital-b"], when=1.0)
    log_b.record_update_sent(TASK, round_number=0, update_digest=update_digest("hospital-b", 0))
    assert _audit(world, store, hospital_b=log_b) == {(F.UPDATE_NOT_LOGGED, 12, "dispatcher", None)}


def test_an_unacknowledged_send_explains_a_recorded_update_only_with_its_own_digest(world: World) -> None:
    # The dispatcher recorded the update, then died before acknowledging it: the node logged the
    # send as unconfirmed. The same digest is explained; another digest is still a finding.
    for digest, expected in (
        (update_digest("hospital-b", 1), set()),
        ("cd" * 32, {(F.UPDATE_NOT_LOGGED, 12, "dispatcher", None)}),
    ):
        store = InMemoryLedgerStore()
        record_study(world, store)
        log_b = OperationLog(None, world.suite, party="hospital-b", role=Role.DATA)
        log_b.record_training(TASK, dataset_fingerprint=FINGERPRINT["hospital-b"], when=1.0)
        log_b.record_update_sent(TASK, round_number=0, update_digest=update_digest("hospital-b", 0))
        log_b.record_update_sent(TASK, round_number=1, update_digest=digest, confirmed=False)
        assert _audit(world, store, hospital_b=log_b) == expected


def test_training_on_data_no_entry_covers_names_the_node(world: World) -> None:
    store = InMemoryLedgerStore()
    record_study(world, store)
    world.logs["hospital-a"].record_training(TASK, dataset_fingerprint="99" * 32, when=9e9)
    line = world.logs["hospital-a"].lines
    assert _audit(world, store) == {(F.UNCOVERED_DATA, None, "hospital-a", line)}


def test_grant_covers_training_only_until_it_is_revoked(world: World) -> None:
    store = InMemoryLedgerStore()
    notary = world.notary(store)
    owner = world.builder("hospital-b")
    for decision, at in ((GrantDecision.APPROVED, 10.0), (GrantDecision.REVOKED, 20.0)):
        signed = owner.grant(
            "task-2",
            grant_id="g-2",
            decision=decision,
            hospital="hospital-b",
            dataset_fingerprint="bb" * 32,
            timestamp=at,
        )
        notary.submit(signed.request, signed.signature)
    log = OperationLog(None, world.suite, party="hospital-b", role=Role.DATA)
    log.record_training("task-2", dataset_fingerprint="bb" * 32, when=15.0)
    log.record_training("task-2", dataset_fingerprint="bb" * 32, when=25.0)
    report = audit(store, world.keys, world.suite, local_logs={"hospital-b": log})
    assert [(f.kind, f.party, f.line) for f in report.findings] == [
        (F.UNCOVERED_DATA, "hospital-b", 2)
    ]


def test_entry_deleted_from_the_end_is_caught_by_the_receipt_and_names_the_notary(
    world: World,
) -> None:
    store = InMemoryLedgerStore()
    record_study(world, store)
    MemoryTamper(store).delete(14)
    # The chain alone cannot see a truncated tail ...
    assert audit(store, world.keys, world.suite).ok
    # ... the receipt hospital-a kept for it can.
    line = world.logs["hospital-a"].lines
    assert _audit(world, store) == {(F.RECEIPT_MISMATCH, 14, "notary", line)}


def test_receipt_the_notary_never_signed_names_the_party_that_logged_it(world: World) -> None:
    store = InMemoryLedgerStore()
    record_study(world, store)
    entry = store.get(9)
    assert entry is not None
    world.logs["hospital-a"].record(
        OpAction.LEDGER_SUBMIT,
        TASK,
        details={
            "kind": "input",
            "sequence": 9,
            "entry_hash": entry.entry_hash,
            "receipt_signature": "30" * 70,
        },
        when=9e9,
    )
    line = world.logs["hospital-a"].lines
    assert _audit(world, store) == {(F.FORGED_RECEIPT, 9, "hospital-a", line)}


def test_truncated_or_rewritten_log_is_caught_by_its_ledger_anchor(
    world: World, tmp_path: Path
) -> None:
    store = InMemoryLedgerStore()
    record_study(world, store, log_dir=tmp_path)
    path = tmp_path / "hospital-a.log"
    anchored = store.get(14)
    assert anchored is not None
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"".join(line + b"\n" for line in lines[: anchored.payload["lines"] - 2]))
    found = _audit(world, store, hospital_a=path)
    # The cut lines included a sent update; a damaged log accuses no one else of it.
    assert found == {(F.LOG_TRUNCATED, 14, "hospital-a", None)}


def test_log_handed_in_under_another_name_is_reported(world: World) -> None:
    store = InMemoryLedgerStore()
    record_study(world, store)
    report = audit(
        store, world.keys, world.suite, local_logs={"hospital-a": world.logs["hospital-b"]}
    )
    assert any(
        f.kind is F.LOG_WRONG_PARTY and f.party == "hospital-a" and f.line == 1
        for f in report.findings
    )


def test_tampered_log_is_reported_with_its_party_and_line(world: World, tmp_path: Path) -> None:
    store = InMemoryLedgerStore()
    record_study(world, store, log_dir=tmp_path)
    path = tmp_path / "hospital-b.log"
    lines = path.read_bytes().splitlines()
    lines[1] = lines[1].replace(b'"outcome":"ok"', b'"outcome":"failed"')
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    assert (F.LOG_TAMPERED, None, "hospital-b", 2) in _audit(world, store, hospital_b=path)


def test_log_rewritten_with_a_fresh_chain_is_caught_by_its_anchor(world: World) -> None:
    from dataclasses import replace

    from medfed.ledger import verify_log

    store = InMemoryLedgerStore()
    record_study(world, store)
    records = [r for _, r in verify_log(world.logs["hospital-a"], world.suite).records]
    forged, prev = [], "00" * world.suite.digest_size
    for i, r in enumerate(records):
        r = replace(r, prev=prev, target="elsewhere" if i == 1 else r.target)
        r = replace(r, hash=r.compute_hash(world.suite))
        forged.append(r)
        prev = r.hash
    assert verify_log(forged, world.suite).ok  # a consistent chain on its own ...
    anchored = store.get(14)
    assert anchored is not None
    found = _audit(world, store, hospital_a=forged)
    # ... but not the one the ledger anchored (receipts after the anchor break too).
    assert (F.LOG_TAMPERED, 14, "hospital-a", anchored.payload["lines"]) in found
    assert {f[2] for f in found} == {"hospital-a"}


def _crash_and_resume(world: World, store: InMemoryLedgerStore, *, restart_recorded: bool) -> None:
    """Round 2 is under way when the dispatcher dies; hospital-b's update for it is lost; the
    restarted dispatcher (optionally recording the restart) re-runs round 2."""
    notary = record_study(world, store)
    disp = world.builder("dispatcher")

    def submit(signed) -> None:
        notary.submit(signed.request, signed.signature)

    world.logs["hospital-b"].record_update_sent(TASK, round_number=2, update_digest="ab" * 32, when=2e9)
    if restart_recorded:
        submit(disp.anomaly(TASK, description="dispatcher restarted", timestamp=2e9 + 1, resumed_at_round=2))
    for h in ("hospital-a", "hospital-b"):
        world.logs[h].record_update_sent(TASK, round_number=2, update_digest=update_digest(h, 2), when=2e9 + 2)
    submit(
        disp.round(
            TASK,
            number=2,
            participants=["hospital-a", "hospital-b"],
            update_digests={h: update_digest(h, 2) for h in ("hospital-a", "hospital-b")},
            privacy={},
            epsilon_spent=None,
            timestamp=2e9 + 3,
        )
    )


@pytest.mark.clause("5.4.3.2d")
def test_an_update_lost_in_a_recorded_dispatcher_restart_is_not_a_finding(world: World) -> None:
    store = InMemoryLedgerStore()
    _crash_and_resume(world, store, restart_recorded=True)
    assert _audit(world, store) == set()


def test_without_a_recorded_restart_the_lost_update_is_still_named(world: World) -> None:
    store = InMemoryLedgerStore()
    _crash_and_resume(world, store, restart_recorded=False)
    assert {kind for kind, *_ in _audit(world, store)} == {F.UPDATE_MISMATCH}
