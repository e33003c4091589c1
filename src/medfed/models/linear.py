"""Logistic regression as a network: the standard's Appendix A scenario model."""

from __future__ import annotations

import torch
from torch import nn


class LogisticRegression(nn.Module):
    """Multinomial logistic regression on feature vectors (N, F) -> logits (N, C).

    With two classes the softmax over two logits is the logistic model with weight
    ``w1 - w0``; the signature matches the CNN builders so the registry treats it alike.
    """

    def __init__(self, in_features: int, n_classes: int, image_size: int = 0, *, norm: str = "none"):
        super().__init__()
        del image_size, norm  # feature vectors have no spatial size or normalisation layers
        self.linear = nn.Linear(in_features, n_classes)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))
