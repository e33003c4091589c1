"""Class probabilities of a model over a batch of images."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


@torch.no_grad()
def predict_proba(model: nn.Module, images: torch.Tensor, *, batch_size: int = 512) -> np.ndarray:
    """Softmax probabilities (N, n_classes) as float64 numpy, in evaluation mode."""
    model.eval()
    parts = [
        torch.softmax(model(images[i : i + batch_size]), dim=1).double().cpu()
        for i in range(0, int(images.shape[0]), batch_size)
    ]
    return torch.cat(parts).numpy()


@torch.no_grad()
def per_sample_loss(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 512
) -> np.ndarray:
    """Cross-entropy of each sample (N,), float64: the signal a membership-inference attack uses."""
    model.eval()
    parts = [
        nn.functional.cross_entropy(
            model(images[i : i + batch_size]), labels[i : i + batch_size], reduction="none"
        ).double().cpu()
        for i in range(0, int(images.shape[0]), batch_size)
    ]
    return torch.cat(parts).numpy()
