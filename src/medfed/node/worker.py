"""The node's work for one task, independent of how the task arrived.

Only parameters and the declared aggregate metrics leave this module; images and
labels stay in the worker's memory.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from medfed.aggregation.sealed import chunks_of, is_sealed, open_sealed, seal, weighted_vector
from medfed.core.config import AdversaryConfig, Behaviour, DropoutStage, FaultTarget
from medfed.core.messages import Arrays, NodeUpdate, SecAggMessage, TrainTask
from medfed.data import LocalDataset, images_to_float
from medfed.errors import ConfigError, DataError, MedfedError, ModelError, ProtocolError
from medfed.evaluation.ranking import macro_auc
from medfed.ledger import OperationLog, Outcome
from medfed.models import build_model, load_arrays, model_arrays
from medfed.node.adversary import (
    FaultRecord,
    Injection,
    ProtocolTamper,
    SimulatedDropout,
    corrupt,
    corrupts_update,
    flip_labels,
)
from medfed.node.consent import NodeConsent
from medfed.node.privacy import PrivacyGuard, RoundPrivacy, clip_update
from medfed.node.secure import SecureSession
from medfed.privacy.he import VectorScheme
from medfed.privacy.he.integrity import header_bytes
from medfed.training import LocalTrainConfig, as_tensors, derive_seed, predict_proba, train_local

log = logging.getLogger("medfed.node")


def _balanced(class_weight: object) -> bool:
    if class_weight not in ("none", "balanced"):
        raise ConfigError(f"task configuration has class_weight={class_weight!r}; expected 'none' or 'balanced'")
    return class_weight == "balanced"


class NodeWorker:
    """Trains the global model of each round on this hospital's data."""

    def __init__(
        self,
        name: str,
        dataset: LocalDataset,
        *,
        device: torch.device,
        guard: PrivacyGuard | None = None,
        sealer: VectorScheme | None = None,
        require_hidden_updates: bool = False,
        consent: NodeConsent | None = None,
        oplog: OperationLog | None = None,
        adversary: AdversaryConfig | None = None,
    ) -> None:
        """``sealer``: the study's homomorphic scheme with its secret key, when updates are encrypted.
        ``require_hidden_updates``: site policy, refuse any task whose update the aggregator would
        see in the clear (neither secure aggregation nor encryption)."""
        self.name = name
        self.require_hidden_updates = require_hidden_updates
        self.consent = consent
        self.oplog = oplog  # this hospital's own tamper-evident operation log (5.5.1.4a)
        self.adversary = adversary  # security evaluation only: corrupt what this node sends
        self.injections: list[Injection] = []  # ground truth of every injected fault
        self.guard = guard or PrivacyGuard()
        self.sealer = sealer
        self._sessions: dict[int, SecureSession] = {}
        self.dataset = dataset
        self.device = device
        self._model: nn.Module | None = None
        self._model_key: tuple[Any, ...] | None = None
        train_labels = dataset.train.labels
        self._flipped = 0  # label_flip adversary: how many training labels it changed
        if adversary is not None and adversary.behaviour is Behaviour.LABEL_FLIP:
            train_labels = flip_labels(train_labels, dataset.n_classes)
            self._flipped = int(np.count_nonzero(train_labels != dataset.train.labels))
        self._last_update: Arrays | None = None  # replay adversary: what it sent last round
        self._train = as_tensors(images_to_float(dataset.train.images, dims=dataset.dims), train_labels, device)
        self._val = (
            as_tensors(images_to_float(dataset.val.images, dims=dataset.dims), dataset.val.labels, device)
            if len(dataset.val.labels)
            else None
        )

    def _model_for(self, config: dict[str, Any]) -> nn.Module:
        if config.get("n_classes") != self.dataset.n_classes:
            raise DataError(
                f"the study expects {config.get('n_classes')} classes; "
                f"{self.name}'s dataset has {self.dataset.n_classes}"
            )
        if config.get("dims") != self.dataset.dims:
            raise DataError(
                f"the study expects {config.get('dims')}D images; {self.name}'s dataset is {self.dataset.dims}D"
            )
        if self.dataset.dims == 0 and config.get("in_channels") != self._train[0].shape[1]:
            # A feature table of another width: say so before a matrix product fails on it.
            raise DataError(
                f"the study's model takes {config.get('in_channels')} features per record; "
                f"{self.name}'s feature table has {self._train[0].shape[1]}: it holds another table"
            )
        key = (config["model"], config["in_channels"], config["n_classes"], config["dims"])
        if self._model is None or key != self._model_key:
            self._model = build_model(
                config["model"],
                in_channels=config["in_channels"],
                n_classes=config["n_classes"],
                dims=config["dims"],
                image_size=config.get("image_size", 28),
            ).to(self.device)
            self._model_key = key
        return self._model

    def handle_secure(self, message: SecAggMessage) -> SecAggMessage:
        """The next step of this round's secure aggregation."""
        session = self._sessions.get(message.round)
        if session is None:
            raise ProtocolError(f"no secure-aggregation session for round {message.round} at {self.name}")
        reply = session.respond(message)
        if message.stage == "unmask":
            del self._sessions[message.round]
        return reply

    def handle(self, task: TrainTask) -> NodeUpdate | SecAggMessage:
        """Train on the task's parameters; raises a MedfedError the caller reports upstream."""
        config = dict(task.config)
        try:
            cfg = LocalTrainConfig(
                epochs=int(config["epochs"]),
                batch_size=int(config["batch_size"]),
                optimizer=str(config["optimizer"]),
                lr=float(config["lr"]),
                proximal_mu=float(config.get("proximal_mu", 0.0)),
                seed=int(config["seed"]),
                weight_decay=float(config.get("weight_decay", 0.0)),
                balanced_classes=_balanced(config.get("class_weight", "none")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"task configuration is incomplete or malformed: {exc}") from None
        if self.consent is not None:
            try:
                grant = self.consent.verify(config, now=time.time())
            except MedfedError as exc:
                self._log("verify_grant", task.study_id, Outcome.REFUSED, reason=str(exc))
                raise
            self._log("verify_grant", task.study_id, Outcome.OK, grant=grant.grant_id, round=task.round)
        if self.require_hidden_updates and not ({"secure_aggregation", "encryption"} & set(config)):
            raise ConfigError(
                f"{self.name}'s policy requires updates hidden from the aggregator (secure aggregation "
                "or encryption); this study would send them in the clear"
            )
        tamper = self._tamper(task.round)
        if tamper is not None and tamper.drops_at(DropoutStage.BEFORE_TRAINING):
            raise SimulatedDropout(f"{self.name} dropped out before training (simulated)")
        model = self._model_for(config)
        start = task.params
        if is_sealed(start):
            start = open_sealed(self._sealer_for(config), start, model_arrays(model))
        load_arrays(model, start)
        images, labels = self._train
        plan = RoundPrivacy.from_task(config)
        n = int(labels.shape[0])
        if plan.mechanism == "dp_sgd":
            if cfg.balanced_classes:
                raise ConfigError("the task asks for class-balanced weights with dp_sgd; this node refuses the pair")
            # Imported here: Opacus is heavy, and most studies never load it at a node.
            from medfed.training.dp_sgd import check_dp_compatible, train_local_dp

            check_dp_compatible(model, config["model"])
            sample_rate = min(1.0, cfg.batch_size / n)
            epsilon = self.guard.admit(plan, sample_rate=sample_rate, steps=max(1, round(cfg.epochs / sample_rate)))
            stats, _ = train_local_dp(
                model, images, labels, cfg,
                noise_multiplier=plan.noise_multiplier, max_grad_norm=plan.clip_norm,
            )
        else:
            # Client-level DP: every hospital takes part in every round (sampling rate 1).
            epsilon = self.guard.admit(plan, sample_rate=1.0, steps=1)
            stats = train_local(
                model, images, labels, cfg, shuffle_seed=derive_seed(cfg.seed, task.round, self.name)
            )
        if not math.isfinite(stats.loss):
            raise ModelError(f"training diverged at {self.name} (loss {stats.loss}); lower the lr")
        metrics = {"train_loss": stats.loss, "train_accuracy": stats.accuracy}
        metrics.update(self._validate(model))
        params = model_arrays(model)
        params = self._poisoned(params, start, task.round)
        if tamper is not None and "secure_aggregation" not in config:
            # No key sharing, masking or unmasking in this study: the later stages all mean
            # "trained, then left without sending".
            if tamper.drops_at(tamper.config.stage):
                raise SimulatedDropout(f"{self.name} dropped out after training (simulated)")
        if plan.mechanism == "dp_fedavg":
            params, norm = clip_update(params, start, plan.clip_norm)
            # One bit for adaptive clipping, noised at the dispatcher before it is used.
            if config.get("adaptive_clipping"):
                metrics["unclipped"] = float(norm <= plan.clip_norm)
        if plan.mechanism != "none":
            metrics["epsilon"] = epsilon
        log.info("%s round %d: loss %.4f in %.2f s", self.name, task.round, stats.loss, stats.seconds)
        if "secure_aggregation" in config:
            self._sessions = {task.round: SecureSession(
                study_id=task.study_id,
                round_number=task.round,
                node=self.name,
                settings=config["secure_aggregation"],
                new=params,
                old=start,
                weight=stats.num_samples,
                dp_noise_std=plan.noise_multiplier * plan.clip_norm if plan.mechanism == "dp_fedavg" else None,
                tamper=tamper,
            )}
            # epsilon and n_val would reveal this hospital's sample count (epsilon depends on
            # batch / n): under secure aggregation they stay here, in the node's log.
            log.info("%s round %d: epsilon %s (kept local)", self.name, task.round, metrics.get("epsilon"))
            private = {"epsilon", "n_val", "unclipped"}
            return self._sessions[task.round].advertise({k: v for k, v in metrics.items() if k not in private})
        if "encryption" in config:
            # The sample count rides inside the ciphertext; epsilon and n_val would reveal it.
            log.info("%s round %d: epsilon %s (kept local)", self.name, task.round, metrics.get("epsilon"))
            sealer = self._sealer_for(config)
            sealed = seal(sealer, weighted_vector(params, stats.num_samples))
            if tamper is not None and tamper.targets(FaultTarget.CIPHERTEXT):
                sealed = self._corrupted_ciphertexts(tamper, sealer, sealed)
            return NodeUpdate(
                study_id=task.study_id,
                round=task.round,
                node=self.name,
                params=sealed,
                num_samples=1,
                train_seconds=stats.seconds,
                metrics={k: v for k, v in metrics.items() if k not in {"epsilon", "n_val", "unclipped"}},
            )
        return NodeUpdate(
            study_id=task.study_id,
            round=task.round,
            node=self.name,
            params=params,
            num_samples=stats.num_samples,
            train_seconds=stats.seconds,
            metrics=metrics,
        )

    # ---- security evaluation only (standard 5.5.1.1e): injected faults, recorded as ground truth

    def _tamper(self, round_number: int) -> ProtocolTamper | None:
        """This round's protocol-level fault injector, when this node is a protocol adversary."""
        adversary = self.adversary
        if adversary is None or not (
            adversary.behaviour is Behaviour.DROPOUT or adversary.target is not FaultTarget.UPDATE
        ):
            return None
        return ProtocolTamper(adversary, node=self.name, round_number=round_number, on_record=self._injected)

    def _injected(self, record: FaultRecord) -> None:
        injection = Injection(record.round, record.node, record.behaviour, record.values_changed, record.target)
        self.injections.append(injection)
        log.warning(
            "%s round %d: injected fault (security evaluation): %s in %s, %d value(s)",
            self.name, record.round, record.behaviour, record.target, record.values_changed,
        )

    def _poisoned(self, params: Arrays, start: Arrays, round_number: int) -> Arrays:
        """The update after the update-level and data-level behaviours of an adversary."""
        adversary = self.adversary
        if adversary is None:
            return params
        behaviour = adversary.behaviour
        if behaviour is Behaviour.LABEL_FLIP:
            self._injected(FaultRecord(round_number, self.name, "labels", behaviour.value, self._flipped))
        elif behaviour is Behaviour.REPLAY:
            if self._last_update is not None:  # round 1 has nothing to replay: it sends its honest update
                params = self._last_update
                size = sum(int(v.size) for v in params.values() if np.issubdtype(v.dtype, np.floating))
                self._injected(FaultRecord(round_number, self.name, "update", behaviour.value, size))
            self._last_update = params  # what this round sends, re-sent next round
        elif corrupts_update(adversary):
            params, injection = corrupt(params, start, adversary, node=self.name, round_number=round_number)
            self._injected(FaultRecord(injection.round, injection.node, "update", injection.behaviour, injection.values_changed))
        return params

    @staticmethod
    def _corrupted_ciphertexts(tamper: ProtocolTamper, sealer: VectorScheme, sealed: Arrays) -> Arrays:
        chunks = chunks_of(sealed)
        modulus = sealer.public_key.n ** 2 if sealer.name == "paillier" else None  # type: ignore[attr-defined]
        chunks = tamper.ciphertexts(chunks, header_bytes=header_bytes(sealer, chunks[0]), modulus=modulus)
        return {key: np.frombuffer(chunk, dtype=np.uint8) for key, chunk in zip(sorted(sealed), chunks, strict=True)}

    def _log(self, action: str, target: str, outcome: Outcome, **details: object) -> None:
        if self.oplog is not None:
            self.oplog.record(action, target, outcome, details=details)

    def _sealer_for(self, config: dict[str, Any]) -> VectorScheme:
        wanted = config.get("encryption")
        if self.sealer is None:
            raise ConfigError(
                f"the study encrypts updates ({wanted or 'its global model is encrypted'}) but "
                f"{self.name}'s kit holds no homomorphic key (he.key); re-provision the study"
            )
        if wanted is not None and wanted != self.sealer.name:
            raise ConfigError(f"the study encrypts with {wanted}; {self.name}'s key is for {self.sealer.name}")
        return self.sealer

    def _validate(self, model: nn.Module) -> dict[str, float]:
        """Aggregate validation metrics of the trained model on the local validation split."""
        if self._val is None:
            return {}
        images, labels = self._val
        proba = predict_proba(model, images)
        y = labels.cpu().numpy()
        loss = float(nn.functional.nll_loss(torch.log(torch.from_numpy(proba).clamp_min(1e-12)), labels.cpu()))
        return {
            "val_loss": loss,
            "val_auc": macro_auc(y, proba),
            "val_accuracy": float((proba.argmax(1) == y).mean()),
            "n_val": float(len(y)),
        }
