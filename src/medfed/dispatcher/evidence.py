"""The study's evidence in the notary's ledger (5.4.2.3i, 5.5.1.4b, 5.5.1.4d).

The dispatcher records, each entry hash-chained and signed: the study (its manifest hash),
every party's role, the algorithm (code hash), each hospital's grant, every round (who took
part, the digest of each update frame received, the privacy parameters, ε where a hospital
reported it), every integrity fault the checks found (an anomaly naming the node and the
finding) and the result (model hash, aggregate metrics). Never data. In this deployment
the notary runs inside the dispatcher's process with its own ledger file; ``medfed audit``
checks it against the parties' certificates and the nodes' own operation logs.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from medfed.authz.study_use import algorithm_hash, task_id
from medfed.core.config import StudyConfig, dump_study
from medfed.core.messages import Arrays
from medfed.crypto import SigningKey, Suite
from medfed.dispatcher.coordinator import RoundRecord
from medfed.ledger import EntryBuilder, EntryKind, LedgerEntry, Notary, SignedRequest, open_store

log = logging.getLogger("medfed.dispatcher")

LEDGER_FILE = "ledger.db"


def update_digest(suite: Suite, frame: bytes) -> str:
    """What the ROUND entry records for an update, and what the node logs: the frame's digest."""
    return suite.digest(frame).hex()


def model_hash(suite: Suite, params: Arrays) -> str:
    parts = [name.encode() + params[name].tobytes() for name in sorted(params)]
    return suite.digest(b"".join(parts)).hex()


class Evidence:
    def __init__(self, study: StudyConfig, path: Path, *, name: str, key: SigningKey, suite: Suite) -> None:
        self.study = study
        self.suite = suite
        self.task = task_id(study)
        self.notary = Notary(open_store(path), suite, {name: key.verify_key()}, notary_key=key, name=name)
        self._builder = EntryBuilder(suite, name, key)

    def _submit(self, signed: SignedRequest) -> str:
        """Append one entry; returns its hash (the chain's head after it)."""
        return self.notary.submit(signed.request, signed.signature).entry_hash

    def _recorded(self, kind: EntryKind, **payload: Any) -> LedgerEntry | None:
        """This study's entry of ``kind`` with ``payload`` fields, if the ledger holds one already."""
        for entry in self.notary.store:
            if entry.task_id == self.task and entry.kind is kind and all(
                entry.payload.get(k) == v for k, v in payload.items()
            ):
                return entry
        return None

    def study_started(self) -> None:
        if self._recorded(EntryKind.STUDY_CREATED) is not None:
            # A restart of the same study: the ledger already holds its opening entries.
            log.info("evidence: the ledger already records study %s; not recording it again", self.study.study_id)
            return
        now = time.time()
        b, study = self._builder, self.study
        manifest = self.suite.digest(dump_study(study).encode()).hex()
        self._submit(b.study_created(self.task, manifest_hash=manifest, timestamp=now, question=study.question or None))
        for party in study.parties:
            self._submit(b.role_assigned(self.task, assignee=party.name, role=party.role, timestamp=now))
        code = algorithm_hash(study, self.suite)
        self._submit(b.algorithm(self.task, algorithm_id=study.training.model, version="1", code_hash=code, timestamp=now))

    def round_closed(self, record: RoundRecord, digests: dict[str, str]) -> str:
        earlier = self._recorded(EntryKind.ROUND, round=record.round)
        if earlier is not None:
            # A crash fell between this round's entry and its checkpoint: one entry per round.
            log.warning("evidence: round %d is already in the ledger (entry %d)", record.round, earlier.sequence)
            return earlier.entry_hash
        p = self.study.privacy
        privacy: dict[str, Any] = {
            "mechanism": p.mechanism.value,
            "secure_aggregation": p.secure_aggregation,
            "encryption": p.encryption.value,
        }
        if p.mechanism.value != "none":
            privacy.update(noise_multiplier=p.noise_multiplier, clip_norm=p.clip_norm, delta=p.delta)
        return self._submit(
            self._builder.round(
                self.task,
                number=record.round,
                participants=record.participants,
                update_digests={n: d for n, d in digests.items() if n in record.accepted},
                privacy=privacy,
                epsilon_spent=dict(record.epsilon) or None,
                timestamp=time.time(),
            )
        )

    def resumed(self, committed: int) -> str:
        """A restart carried on after round ``committed`` (5.4.3.2: no committed work lost)."""
        description = f"dispatcher restarted; resumed at round {committed + 1} after round {committed} was committed"
        return self._submit(
            self._builder.anomaly(
                self.task, description=description, timestamp=time.time(), resumed_at_round=committed + 1
            )
        )

    def fault_detected(self, round_number: int, node: str, finding: str) -> str:
        """An integrity check named ``node`` in a round (5.5.1.1e): one anomaly entry per fault."""
        description = f"round {round_number}: integrity fault at {node}: {finding}; {node} excluded from the round"
        earlier = self._recorded(EntryKind.ANOMALY, description=description, suspect=node)
        if earlier is not None:  # the round was re-run after a restart and found the same fault
            return earlier.entry_hash
        return self._submit(
            self._builder.anomaly(self.task, description=description, timestamp=time.time(), suspect=node)
        )

    def features_refused(self, suspects: tuple[str, ...], reason: str) -> None:
        """The study stopped before modeling: parties extract different features (5.3.2d)."""
        for suspect in suspects or ("",):
            self._submit(
                self._builder.anomaly(
                    self.task, description=reason, timestamp=time.time(), suspect=suspect or None
                )
            )

    def result(self, params: Arrays, metrics: dict[str, float]) -> None:
        finite = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and v == v}
        self._submit(
            self._builder.result(self.task, model_hash=model_hash(self.suite, params), metrics=finite, timestamp=time.time())
        )
        log.info("evidence: %d ledger entries", len(self.notary.store))
