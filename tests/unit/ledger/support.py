"""A small study recorded in a ledger, and ways to tamper with a store behind its back."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from medfed.crypto import SigningKey, Suite, VerifyKey
from medfed.ledger import (
    EntryBuilder,
    GrantDecision,
    InMemoryLedgerStore,
    LedgerStore,
    Notary,
    OperationLog,
    Receipt,
    SignedRequest,
    SqliteLedgerStore,
)
from medfed.ledger.store import COLUMNS
from medfed.roles import Role

NOW = 1_700_000_000.0
TASK = "task-1"
PARTIES = {
    "initiator": Role.INITIATOR,
    "dispatcher": Role.DISPATCHER,
    "algorithm-party": Role.ALGORITHM,
    "hospital-a": Role.DATA,
    "hospital-b": Role.DATA,
}
HOSPITALS = ("hospital-a", "hospital-b")
FINGERPRINT = {"hospital-a": "fa" * 32, "hospital-b": "fb" * 32}
MODEL_HASH = "3e" * 32


def update_digest(hospital: str, round_no: int) -> str:
    return f"{round_no:02x}" + ("aa" if hospital == "hospital-a" else "bb") * 31


@dataclass
class World:
    """One suite's parties, their keys, a notary, and each hospital's operation log."""

    suite: Suite
    signing: dict[str, SigningKey]
    notary_signing: SigningKey
    logs: dict[str, OperationLog] = field(default_factory=dict)
    receipts: list[Receipt] = field(default_factory=list)

    @property
    def keys(self) -> dict[str, VerifyKey]:
        return {name: key.verify_key() for name, key in self.signing.items()}

    @property
    def notary_key(self) -> VerifyKey:
        return self.notary_signing.verify_key()

    def builder(self, party: str) -> EntryBuilder:
        return EntryBuilder(self.suite, party, self.signing[party])

    def notary(self, store: LedgerStore) -> Notary:
        return Notary(store, self.suite, self.keys, notary_key=self.notary_signing)


def make_world(suite: Suite) -> World:
    return World(
        suite=suite,
        signing={name: suite.generate_signing_key() for name in PARTIES},
        notary_signing=suite.generate_signing_key(),
    )


def record_study(
    world: World,
    store: LedgerStore,
    *,
    log_dir: Path | None = None,
    recorded: Mapping[tuple[str, int], str | None] | None = None,
) -> Notary:
    """A two-hospital, two-round study: 15 entries, and each hospital's log of what it did.

    Sequences: 0 study, 1–5 roles, 6 algorithm, 7–8 grants, 9–10 inputs, 11–12 rounds,
    13 result, 14 log anchor of hospital-a. ``recorded[(hospital, round)]`` makes the
    dispatcher record another update digest than the hospital sent (None: omit it).
    """
    recorded = recorded or {}
    notary = world.notary(store)
    t = iter(NOW + i for i in range(1000))
    for h in HOSPITALS:
        path = None if log_dir is None else log_dir / f"{h}.log"
        world.logs[h] = OperationLog(path, world.suite, party=h, role=Role.DATA)

    def submit(signed: SignedRequest) -> None:
        receipt = notary.submit(signed.request, signed.signature)
        world.receipts.append(receipt)
        log = world.logs.get(signed.request.party)
        if log is not None:
            log.record_submission(signed, receipt, when=next(t))

    init, disp = world.builder("initiator"), world.builder("dispatcher")
    submit(
        init.study_created(TASK, manifest_hash="5d" * 32, timestamp=next(t), question="pneumonia?")
    )
    for party, role in PARTIES.items():
        submit(disp.role_assigned(TASK, assignee=party, role=role, timestamp=next(t)))
    submit(
        world.builder("algorithm-party").algorithm(
            TASK, algorithm_id="cnn-small", version="1.2.0", code_hash="c0" * 32, timestamp=next(t)
        )
    )
    for h in HOSPITALS:
        submit(
            world.builder(h).grant(
                TASK,
                grant_id=f"grant-{h}",
                decision=GrantDecision.APPROVED,
                hospital=h,
                dataset_fingerprint=FINGERPRINT[h],
                timestamp=next(t),
            )
        )
    for h in HOSPITALS:
        submit(
            world.builder(h).input(
                TASK,
                dataset_id=f"{h}-cxr",
                fingerprint=FINGERPRINT[h],
                timestamp=next(t),
                num_samples=500,
            )
        )
    for r in range(2):
        for h in HOSPITALS:
            world.logs[h].record_training(TASK, dataset_fingerprint=FINGERPRINT[h], when=next(t))
            world.logs[h].record_update_sent(
                TASK, round_number=r, update_digest=update_digest(h, r), when=next(t)
            )
        submit(
            disp.round(
                TASK,
                number=r,
                participants=list(HOSPITALS),
                update_digests={
                    h: d
                    for h in HOSPITALS
                    if (d := recorded.get((h, r), update_digest(h, r))) is not None
                },
                privacy={
                    "mechanism": "gaussian",
                    "noise_multiplier": 1.1,
                    "clip": 1.0,
                    "delta": 1e-5,
                },
                epsilon_spent=0.5 * (r + 1),
                timestamp=next(t),
            )
        )
    submit(
        disp.result(
            TASK, model_hash=MODEL_HASH, metrics={"auc": 0.91, "ks": 0.6}, timestamp=next(t)
        )
    )
    head, lines = world.logs["hospital-a"].anchor()
    submit(
        world.builder("hospital-a").log_anchor(TASK, log_head=head, lines=lines, timestamp=next(t))
    )
    return notary


class Tamper:
    """Changes a store's rows directly, as someone with access to its storage could."""

    def set(self, sequence: int, column: str, value: object) -> None:
        raise NotImplementedError

    def get(self, sequence: int, column: str) -> object:
        raise NotImplementedError

    def delete(self, sequence: int) -> None:
        raise NotImplementedError

    def swap(self, a: int, b: int) -> None:
        """Exchange every column but the sequence number of two rows."""
        for column in COLUMNS[1:]:
            va, vb = self.get(a, column), self.get(b, column)
            self.set(a, column, vb)
            self.set(b, column, va)


class MemoryTamper(Tamper):
    def __init__(self, store: InMemoryLedgerStore) -> None:
        self._rows = store._rows  # the backend's private rows: this *is* the attack

    def get(self, sequence: int, column: str) -> object:
        return self._rows[sequence][COLUMNS.index(column)]

    def set(self, sequence: int, column: str, value: object) -> None:
        row = list(self._rows[sequence])
        row[COLUMNS.index(column)] = value
        self._rows[sequence] = tuple(row)  # type: ignore[assignment]

    def delete(self, sequence: int) -> None:
        del self._rows[sequence]


class SqlTamper(Tamper):
    """Raw SQL on the store's file through a second connection, triggers dropped first."""

    def __init__(self, store: SqliteLedgerStore) -> None:
        self._db = sqlite3.connect(store.path, isolation_level=None)
        self._db.execute("DROP TRIGGER IF EXISTS ledger_no_update")
        self._db.execute("DROP TRIGGER IF EXISTS ledger_no_delete")

    def get(self, sequence: int, column: str) -> object:
        assert column in COLUMNS
        return self._db.execute(
            f"SELECT {column} FROM ledger WHERE sequence = ?", (sequence,)
        ).fetchone()[0]

    def set(self, sequence: int, column: str, value: object) -> None:
        assert column in COLUMNS
        self._db.execute(f"UPDATE ledger SET {column} = ? WHERE sequence = ?", (value, sequence))

    def delete(self, sequence: int) -> None:
        self._db.execute("DELETE FROM ledger WHERE sequence = ?", (sequence,))

    def close(self) -> None:
        self._db.close()


def flip_hex(text: str, index: int) -> str:
    """``text`` with the hex digit at ``index`` changed (one byte of the stored text)."""
    old = text[index]
    new = "1" if old == "0" else "0"
    return text[:index] + new + text[index + 1 :]
