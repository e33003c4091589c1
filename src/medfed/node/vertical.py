"""A party of a vertical study over the relay: align patients, train, score, report.

Sequence, every step a relayed message (``round`` 0 for set-up, t + 1 for training
iteration t):

1. The label party (guest) runs PSI as initiator with each other data party (host) and
   sends each the final, sorted list of common patients (``aligned``). Hosts learn the
   intersection and nothing else of the guest's patients.
2. Each data party keeps those rows, splits them into train / test by the seeded hash of
   the patient ID (the same at every party, nothing exchanged), standardises its own
   columns on its own training rows, builds its training state machine and tells the
   arbiter its weight count (``ready``).
3. The arbiter, once every data party is ready, generates the Paillier key pair and sends
   the public key; training proceeds as the state machines dictate.
4. After the last iteration each host sends its partial scores for the test rows to the
   guest, which scores them and reports AUC and KS (aggregates only) to the dispatcher.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from medfed.core.config import StudyConfig
from medfed.core.messages import RelayMessage
from medfed.data.tabular import Table, fit_standardizer, is_test_id, select_ids
from medfed.errors import DataError, ProtocolError
from medfed.evaluation.metrics import classification_metrics
from medfed.privacy.psi import PSIInitiator, PSIResponder, psi_message_from_wire
from medfed.training.vertical.arbiter import ArbiterParty
from medfed.training.vertical.config import VerticalConfig
from medfed.training.vertical.guest import GuestParty
from medfed.training.vertical.host import HostParty
from medfed.training.vertical.messages import PartialScore, VerticalMessage, message_from_wire

log = logging.getLogger("medfed.node")


def _lr_config(study: StudyConfig) -> VerticalConfig:
    v = study.vertical
    assert v is not None
    return VerticalConfig(
        iterations=v.iterations, lr=v.lr, l2=v.l2, batch_size=v.batch_size or None, seed=study.training.seed
    )


def _unwrap(message: RelayMessage) -> VerticalMessage:
    """The protocol message inside; its self-declared sender must be the authenticated one."""
    inner = message_from_wire(message.body, message.params)
    if inner.sender != message.node:
        raise ProtocolError(f"a message relayed from {message.node} claims to come from {inner.sender}")
    return inner


def _wire(study_id: str, sender: str, message: VerticalMessage) -> RelayMessage:
    header, arrays = message.to_wire()
    # Set-up messages (the key) travel in round 0; iteration t's in round t + 1.
    number = message.iteration + 1 if message.kind != "public_key" else 0
    return RelayMessage(study_id, number, sender, message.recipient, "lr", header, arrays)


class _DataParty:
    """What guest and hosts share: their table, the split, and the LR machine once aligned."""

    def __init__(self, study: StudyConfig, name: str, table: Table) -> None:
        self.study = study
        self.study_id = study.study_id
        self.name = name
        self.table = table
        self.config = _lr_config(study)
        v = study.vertical
        assert v is not None
        self.arbiter = v.arbiter
        self.label_party = v.label_party
        self.hosts = tuple(h for h in study.hospitals if h != v.label_party)
        self.train: Table | None = None
        self.test: Table | None = None
        self.machine: GuestParty | HostParty | None = None

    def _align(self, ids: list[str]) -> None:
        aligned = select_ids(self.table, ids)
        v = self.study.vertical
        assert v is not None
        seed = self.study.training.seed
        test = np.array([is_test_id(p, seed=seed, test_fraction=v.test_fraction) for p in aligned.ids])
        if test.all() or not test.any():
            raise DataError(f"{len(aligned)} common patients cannot be split into train and test")
        train_rows, test_rows = aligned.rows(np.flatnonzero(~test)), aligned.rows(np.flatnonzero(test))
        scale = fit_standardizer(train_rows.features)
        self.train = Table(train_rows.ids, scale.apply(train_rows.features), train_rows.labels, train_rows.feature_names)
        self.test = Table(test_rows.ids, scale.apply(test_rows.features), test_rows.labels, test_rows.feature_names)

    def _ready(self, weights: int) -> RelayMessage:
        return RelayMessage(self.study_id, 0, self.name, self.arbiter, "ready", {"weights": weights}, {})

    def _lr(self, message: RelayMessage) -> list[RelayMessage]:
        if self.machine is None:
            raise ProtocolError(f"{self.name}: training message before the patients were aligned")
        return [_wire(self.study_id, self.name, m) for m in self.machine.receive(_unwrap(message))]


class GuestAdapter(_DataParty):
    """The label party: PSI initiator with every host, scorer at the end."""

    def __init__(self, study: StudyConfig, name: str, table: Table) -> None:
        super().__init__(study, name, table)
        if table.labels is None:
            raise DataError(f"{name} is the label party but its data file holds no labels")
        self._psi = {h: PSIInitiator(table.ids, study_id=study.study_id) for h in self.hosts}
        self._common: dict[str, set[str]] = {}
        self._scores: dict[str, VerticalMessage] = {}
        self._started = 0.0

    def start(self, body: dict[str, Any]) -> list[RelayMessage]:
        self._started = time.perf_counter()
        out = []
        for host, psi in self._psi.items():
            for m in psi.start():
                header, arrays = m.to_wire()
                out.append(RelayMessage(self.study_id, 0, self.name, host, "psi", header, arrays))
        return out

    def receive(self, message: RelayMessage) -> list[RelayMessage]:
        if message.kind == "psi" and message.node in self._psi:
            return self._psi_step(message)
        if message.kind == "lr":
            incoming = _unwrap(message)
            if isinstance(incoming, PartialScore):
                return self._score(incoming)
            return self._lr(message)
        raise ProtocolError(f"{self.name}: unexpected {message.kind!r} from {message.node}")

    def _psi_step(self, message: RelayMessage) -> list[RelayMessage]:
        psi = self._psi[message.node]
        replies = psi.receive(psi_message_from_wire(message.body, message.params))
        out = []
        for m in replies:
            header, arrays = m.to_wire()
            out.append(RelayMessage(self.study_id, 0, self.name, message.node, "psi", header, arrays))
        self._common[message.node] = set(psi.intersection)
        if len(self._common) < len(self.hosts):
            return out
        common = sorted(set.intersection(set(self.table.ids), *self._common.values()))
        if not common:
            raise DataError(f"no patients in common across all parties of study {self.study_id!r}")
        log.info("%s: %d patients in common after PSI", self.name, len(common))
        self._align(common)
        assert self.train is not None and self.train.labels is not None
        self.machine = GuestParty(
            self.name, self.train.features, self.train.labels, hosts=self.hosts, arbiter=self.arbiter, config=self.config
        )
        out += [RelayMessage(self.study_id, 0, self.name, h, "aligned", {"ids": common}, {}) for h in self.hosts]
        out.append(self._ready(self.train.features.shape[1] + 1))
        return out

    def _score(self, score: PartialScore) -> list[RelayMessage]:
        self._scores[score.sender] = score
        if len(self._scores) < len(self.hosts):
            return []
        assert isinstance(self.machine, GuestParty) and self.test is not None and self.test.labels is not None
        proba = self.machine.predict_proba(self.test.features, [self._scores[h] for h in self.hosts])
        metrics = classification_metrics(self.test.labels, np.stack([1 - proba, proba], axis=1))
        assert self.train is not None
        body = {
            "auc": metrics.auc,
            "ks": metrics.ks,
            "accuracy": metrics.accuracy,
            "train_patients": len(self.train),
            "test_patients": len(self.test),
            "seconds": time.perf_counter() - self._started,
        }
        log.info("%s: joint model AUC %.4f, KS %.4f on %d test patients", self.name, metrics.auc, metrics.ks, len(self.test))
        return [RelayMessage(self.study_id, self.config.iterations + 1, self.name, "dispatcher", "done", body, {})]


class HostAdapter(_DataParty):
    """A feature party without labels: PSI responder, sends its test-row scores at the end."""

    def __init__(self, study: StudyConfig, name: str, table: Table) -> None:
        super().__init__(study, name, table)
        self._psi = PSIResponder(table.ids, study_id=study.study_id)

    def start(self, body: dict[str, Any]) -> list[RelayMessage]:
        return []

    def receive(self, message: RelayMessage) -> list[RelayMessage]:
        if message.node != self.label_party and message.node != self.arbiter:
            raise ProtocolError(f"{self.name}: unexpected message from {message.node}")
        if message.kind == "psi":
            out = []
            for m in self._psi.receive(psi_message_from_wire(message.body, message.params)):
                header, arrays = m.to_wire()
                out.append(RelayMessage(self.study_id, 0, self.name, self.label_party, "psi", header, arrays))
            return out
        if message.kind == "aligned":
            ids = [str(i) for i in message.body.get("ids", [])]
            if not set(ids) <= set(self._psi.intersection):
                raise ProtocolError(f"{self.name}: the aligned patients are not a subset of the PSI result")
            self._align(ids)
            assert self.train is not None
            self.machine = HostParty(
                self.name, self.train.features, guest=self.label_party, arbiter=self.arbiter, config=self.config
            )
            return [self._ready(self.train.features.shape[1])]
        if message.kind == "lr":
            out = self._lr(message)
            if isinstance(self.machine, HostParty) and self.machine.done:
                assert self.test is not None
                out.append(_wire(self.study_id, self.name, self.machine.partial_scores(self.test.features)))
            return out
        raise ProtocolError(f"{self.name}: unexpected {message.kind!r}")


class ArbiterAdapter:
    """The auxiliary computing party: generates the key once every data party is ready."""

    def __init__(self, study: StudyConfig, name: str) -> None:
        self.study = study
        self.study_id = study.study_id
        self.name = name
        self._sizes: dict[str, int] = {}
        self._machine: ArbiterParty | None = None

    def start(self, body: dict[str, Any]) -> list[RelayMessage]:
        return []

    def receive(self, message: RelayMessage) -> list[RelayMessage]:
        if message.kind == "ready" and self._machine is None:
            if message.node not in self.study.hospitals:
                raise ProtocolError(f"{self.name}: 'ready' from {message.node}, not a data party")
            weights = message.body.get("weights")
            if not isinstance(weights, int) or weights < 1:
                raise ProtocolError(f"{self.name}: 'ready' from {message.node} without a weight count")
            self._sizes[message.node] = weights
            if set(self._sizes) != set(self.study.hospitals):
                return []
            v = self.study.vertical
            assert v is not None
            self._machine = ArbiterParty(self.name, parties=self._sizes, config=_lr_config(self.study), key_bits=v.key_bits)
            return [_wire(self.study_id, self.name, m) for m in self._machine.start()]
        if message.kind == "lr" and self._machine is not None:
            return [_wire(self.study_id, self.name, m) for m in self._machine.receive(_unwrap(message))]
        raise ProtocolError(f"{self.name}: unexpected {message.kind!r} from {message.node}")
