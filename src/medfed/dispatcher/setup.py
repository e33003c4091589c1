"""From a study file to a ready coordinator: model shape, initial weights, plan."""

from __future__ import annotations

from typing import Any

from medfed.aggregation import build_strategy
from medfed.core.config import Encryption, Mechanism, StudyConfig
from medfed.core.messages import Arrays
from medfed.data import dataset_info
from medfed.dispatcher.coordinator import ConsentCheck, Coordinator, StudyPlan
from medfed.dispatcher.relay import RelayCoordinator
from medfed.errors import ConfigError
from medfed.models import build_model, model_arrays
from medfed.privacy.he import VectorScheme


def training_config(study: StudyConfig) -> dict[str, Any]:
    """What every node needs to build and train the model (no data, no secrets)."""
    info = dataset_info(study.data.dataset)
    t = study.training
    return {
        "model": t.model,
        "in_channels": info.n_channels,
        "n_classes": info.n_classes,
        "dims": info.dims,
        "image_size": study.data.size,
        "epochs": t.local_epochs,
        "batch_size": t.batch_size,
        "optimizer": t.optimizer.value,
        "lr": t.lr,
        "proximal_mu": 0.0,
        "weight_decay": t.weight_decay,
        "class_weight": t.class_weight.value,
        "seed": t.seed,
        **_sample_level_privacy(study),
    }


def _sample_level_privacy(study: StudyConfig) -> dict[str, Any]:
    """DP-SGD runs at every node from the base configuration (client-level DP is a wrapper)."""
    p = study.privacy
    if p.mechanism is not Mechanism.DP_SGD:
        return {}
    return {
        "mechanism": p.mechanism.value,
        "noise_multiplier": p.noise_multiplier,
        "clip_norm": p.clip_norm,
        "delta": p.delta,
    }


def initial_params(study: StudyConfig) -> Arrays:
    """The seeded initial model, after the privacy pre-flight (e.g. DP-SGD refuses BatchNorm)."""
    cfg = training_config(study)
    model = build_model(
        cfg["model"],
        in_channels=cfg["in_channels"],
        n_classes=cfg["n_classes"],
        dims=cfg["dims"],
        image_size=cfg["image_size"],
        seed=study.training.seed,
    )
    if study.privacy.mechanism is Mechanism.DP_SGD:
        from medfed.training.dp_sgd import check_dp_compatible  # Opacus only when needed

        check_dp_compatible(model, cfg["model"])
    return model_arrays(model)


def new_relay(study: StudyConfig, *, now: float) -> RelayCoordinator:
    """A vertical study's coordinator: it relays the parties' protocol messages."""
    v = study.vertical
    assert v is not None
    t = study.training
    return RelayCoordinator(
        study.study_id,
        (*study.hospitals, v.arbiter),
        result_party=v.label_party,
        now=now,
        join_timeout=t.join_timeout,
        idle_timeout=t.round_timeout,
    )


def new_coordinator(
    study: StudyConfig, *, now: float, sealer: VectorScheme | None = None, consent: ConsentCheck | None = None
) -> Coordinator:
    """The study's coordinator; ``sealer`` (public key only) is required when the study encrypts."""
    t = study.training
    encrypted = study.privacy.encryption is not Encryption.NONE
    if encrypted and sealer is None:
        raise ConfigError(
            f"the study encrypts updates with {study.privacy.encryption.value}, but the dispatcher "
            "has no public homomorphic key (he.pub in its kit); re-provision the study"
        )
    if sealer is not None and (not encrypted or sealer.name != study.privacy.encryption.value):
        raise ConfigError(
            f"the dispatcher holds a {sealer.name} key but the study's encryption is "
            f"{study.privacy.encryption.value}"
        )
    if sealer is not None and sealer.can_decrypt:
        raise ConfigError("the aggregator must hold the public homomorphic key only, never the secret key")
    secure = None
    if study.privacy.secure_aggregation:
        if len(study.hospitals) < 3:
            raise ConfigError("[privacy] secure_aggregation needs at least 3 data parties")
        secure = {"threshold": study.privacy.secagg_threshold, "suite": study.security.suite.value}
    plan = StudyPlan(
        study_id=study.study_id,
        rounds=t.rounds,
        expected_nodes=study.hospitals,
        min_nodes=t.min_nodes,
        base_config=training_config(study),
        round_timeout=t.round_timeout,
        join_timeout=t.join_timeout,
        secure=secure,
    )
    strategy = build_strategy(
        t.strategy.value,
        proximal_mu=t.proximal_mu,
        privacy=study.privacy,
        trim_fraction=t.trim_fraction,
        krum_f=t.krum_f,
        krum_m=t.krum_m,
    )
    if study.security.require_grants and consent is None:
        raise ConfigError(
            "the study requires data-use grants ([security] require_grants) but the dispatcher has no grant store"
        )
    return Coordinator(plan, strategy, initial_params(study), now=now, sealer=sealer, consent=consent)
