"""Choose where tensors live: ``auto`` takes CUDA when present, the CPU otherwise."""

from __future__ import annotations

import torch

from medfed.errors import ConfigError


def resolve_device(choice: str = "auto") -> torch.device:
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda was asked for but no CUDA device is available")
        return torch.device("cuda")
    raise ConfigError(f"--device must be auto, cpu or cuda, not {choice!r}")
