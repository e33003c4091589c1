"""A trained run folder and provisioned kits, built once per test session (shared by the
deployment and runtime tests): SmallCNN2d trained centrally on PneumoniaMNIST for 1 epoch."""

from __future__ import annotations

import functools
import json
import tomllib
from pathlib import Path

import torch
from safetensors.numpy import save_file

from medfed.core.config import StudyConfig, dump_study, parse_study
from medfed.data import images_to_float, load_medmnist
from medfed.deployment import export_run
from medfed.evaluation import classification_metrics
from medfed.models import build_model, model_arrays
from medfed.provision import provision_study
from medfed.training import LocalTrainConfig, as_tensors, predict_proba, train_local

STUDY_ID = "deploy-test"


def study_toml(suite: str) -> str:
    return f"""
[study]
id = "{STUDY_ID}"
[data]
dataset = "pneumoniamnist"
[training]
model = "cnn2d"
rounds = 1
[security]
suite = "{suite}"
[[parties]]
name = "dispatcher"
role = "dispatcher"
[[parties]]
name = "hospital-a"
role = "data"
[[parties]]
name = "result"
role = "result"
"""


def _study(suite: str) -> StudyConfig:
    return parse_study(tomllib.loads(study_toml(suite)))


@functools.cache
def trained_run(base: Path, data_dir: Path) -> Path:
    """A run folder as ``write_run`` leaves it: results.json, model.safetensors, study.toml."""
    torch.set_num_threads(1)
    data = load_medmnist("pneumoniamnist", data_dir=data_dir)
    model = build_model("cnn2d", in_channels=1, n_classes=2, dims=2, seed=0)
    x, y = as_tensors(images_to_float(data.train.images, dims=2), data.train.labels, torch.device("cpu"))
    train_local(model, x, y, LocalTrainConfig(epochs=1, batch_size=64), shuffle_seed=0)
    xt, _ = as_tensors(images_to_float(data.test.images, dims=2), data.test.labels, torch.device("cpu"))
    metrics = classification_metrics(data.test.labels, predict_proba(model, xt))
    out = base / "run"
    out.mkdir(parents=True, exist_ok=True)
    study = _study("intl")
    results = {
        "study": {"id": STUDY_ID, "question": ""},
        "mode": "simulation",
        "federated": {"auc": metrics.auc, "ks": metrics.ks, "accuracy": metrics.accuracy},
        "dataset": {"flag": "pneumoniamnist", "size": 28, "n_classes": 2, "test_samples": len(data.test)},
        "config": {"model": "cnn2d", "rounds": 1, "seed": 0},
    }
    (out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    save_file(model_arrays(model), str(out / "model.safetensors"))
    (out / "study.toml").write_text(dump_study(study), encoding="utf-8")
    return out


@functools.cache
def kits(base: Path, suite: str) -> Path:
    """Provisioned kits of the test study under ``suite`` ("intl" or "gm")."""
    out = base / f"kits-{suite}"
    provision_study(_study(suite), out)
    return out


@functools.cache
def exported(base: Path, data_dir: Path, suite: str, mode: str):  # type: ignore[no-untyped-def]
    """``export_run`` of the trained run in ``mode``, signed by the result party under ``suite``."""
    run = trained_run(base, data_dir)
    kit = kits(base, suite) / "result"
    return export_run(run, base / f"{suite}-{mode}.mfbundle", signer_kit=kit, quantize=mode, data_dir=data_dir)
