"""Local training and inference loops, shared by nodes, simulation and the central baseline."""

from medfed.training.device import resolve_device
from medfed.training.local import LocalTrainConfig, TrainStats, as_tensors, derive_seed, train_local
from medfed.training.predict import per_sample_loss, predict_proba
from medfed.training.warmup import warm_up

__all__ = [
    "LocalTrainConfig",
    "TrainStats",
    "as_tensors",
    "derive_seed",
    "per_sample_loss",
    "predict_proba",
    "resolve_device",
    "train_local",
    "warm_up",
]
