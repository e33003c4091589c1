"""Small convolutional networks for MedMNIST-sized images and volumes.

BatchNorm is used on purpose: the deployment stage fuses Conv+BN, and FedAvg
averages the running statistics along with the weights.
"""

from __future__ import annotations

import torch
from torch import nn


def _norm(kind: str, channels: int, dims: int) -> nn.Module:
    """BatchNorm by default; GroupNorm where per-sample gradients are needed (DP-SGD)."""
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    return nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm3d(channels)


class SmallCNN2d(nn.Module):
    """Two conv blocks and a small head; ~206k parameters at 28x28, 1 channel.

    Narrow convolutions keep a CPU epoch over PneumoniaMNIST to about a second;
    most parameters sit in the first dense layer.

    Input (N, C, H, W) float in [0, 1]; output logits (N, n_classes).
    """

    def __init__(self, in_channels: int, n_classes: int, image_size: int = 28, norm: str = "batch") -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, padding=1, bias=False),
            _norm(norm, 16, 2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, bias=False),
            _norm(norm, 32, 2),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        # Larger inputs are pooled to the 28px grid so the head size stays fixed.
        self.pool = nn.AdaptiveAvgPool2d(7)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 128),
            nn.ReLU(),
            nn.Linear(128, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)))


class SmallCNN3d(nn.Module):
    """3D counterpart for volumes (N, 1, D, H, W), e.g. AdrenalMNIST3D."""

    def __init__(self, in_channels: int, n_classes: int, image_size: int = 28, norm: str = "batch") -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(in_channels, 16, 3, padding=1, bias=False),
            _norm(norm, 16, 3),
            nn.ReLU(),
            nn.MaxPool3d(2),
            nn.Conv3d(16, 32, 3, padding=1, bias=False),
            _norm(norm, 32, 3),
            nn.ReLU(),
            nn.MaxPool3d(2),
        )
        self.pool = nn.AdaptiveAvgPool3d(4)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 4 * 4 * 4, 64),
            nn.ReLU(),
            nn.Linear(64, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)))
