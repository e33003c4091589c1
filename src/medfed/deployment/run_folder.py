"""A finished run folder (``medfed demo`` / ``simulate``) as the deployment stage reads it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.numpy import load_file
from torch import nn

from medfed.data import DatasetInfo, dataset_info
from medfed.deployment.errors import RunFolderError
from medfed.errors import DataError, ModelError
from medfed.models import build_model, load_arrays

RESULTS_FILE = "results.json"
MODEL_FILE = "model.safetensors"


@dataclass(frozen=True)
class TrainedRun:
    """The federated model of a run and what it was trained on."""

    directory: Path
    study_id: str
    model_name: str
    info: DatasetInfo
    image_size: int
    model: nn.Module
    model_sha256: str
    results: dict[str, Any]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one model input."""
        return (self.info.n_channels, self.image_size, self.image_size)


def _results(directory: Path) -> dict[str, Any]:
    path = directory / RESULTS_FILE
    if not path.is_file():
        raise RunFolderError(f"{directory} has no {RESULTS_FILE}; is it a run folder of `medfed demo` or `simulate`?")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
        _ = results["study"]["id"], results["config"]["model"], results["dataset"]["flag"], results["dataset"]["size"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise RunFolderError(f"{path} is not a readable results file ({exc})") from None
    return results


def load_trained_run(directory: str | Path) -> TrainedRun:
    """Read ``results.json`` and rebuild the federated model from ``model.safetensors``.

    RunFolderError for a missing folder or file; ModelError when the parameters do not fit.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise RunFolderError(f"run folder {directory} does not exist")
    results = _results(directory)
    model_path = directory / MODEL_FILE
    if not model_path.is_file():
        raise RunFolderError(f"{directory} has no {MODEL_FILE}: the run did not finish, so there is no model to export")
    try:
        info = dataset_info(results["dataset"]["flag"])
    except DataError as exc:
        raise RunFolderError(f"{directory}: {exc}") from None
    if info.dims != 2:
        raise ModelError(f"only 2D image models are exported; {info.flag} is {info.dims}D")
    raw = model_path.read_bytes()
    try:
        arrays = load_file(str(model_path))
    except (SafetensorError, OSError) as exc:
        raise RunFolderError(f"{model_path} is not a readable safetensors file ({exc})") from None
    size = int(results["dataset"]["size"])
    model = build_model(
        results["config"]["model"], in_channels=info.n_channels, n_classes=info.n_classes, dims=2, image_size=size
    )
    load_arrays(model, arrays)
    model.eval()
    return TrainedRun(
        directory=directory,
        study_id=str(results["study"]["id"]),
        model_name=str(results["config"]["model"]),
        info=info,
        image_size=size,
        model=model,
        model_sha256=hashlib.sha256(raw).hexdigest(),
        results=results,
    )
