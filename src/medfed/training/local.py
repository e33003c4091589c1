"""One party's training loop: the same code trains a hospital's share and the central baseline."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from medfed.errors import ConfigError


@dataclass(frozen=True)
class LocalTrainConfig:
    epochs: int = 1
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    proximal_mu: float = 0.0
    seed: int = 0
    weight_decay: float = 0.0  # L2 penalty coefficient on the weights (not the biases)
    balanced_classes: bool = False  # weight each class's loss by n / (classes present x its count)


@dataclass(frozen=True)
class TrainStats:
    loss: float
    accuracy: float
    num_samples: int
    seconds: float


def derive_seed(*parts: object) -> int:
    """A stable 63-bit seed from any parts (Python's hash() differs between processes)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, object]]:
    # Biases and normalisation shifts are not penalised (as in scikit-learn's logistic regression).
    decayed = [p for n, p in model.named_parameters() if not n.endswith("bias")]
    free = [p for n, p in model.named_parameters() if n.endswith("bias")]
    return [{"params": decayed, "weight_decay": weight_decay}, {"params": free, "weight_decay": 0.0}]


def _optimizer(model: nn.Module, cfg: LocalTrainConfig) -> torch.optim.Optimizer:
    groups = _parameter_groups(model, cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9)
    raise ConfigError(f"unknown optimizer {cfg.optimizer!r}; choose adam or sgd")


def class_weights(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Scikit-learn's 'balanced' weights from this party's own labels: n / (k x count) for
    each of the k classes present; a class absent here gets weight 0 (it has no loss term)."""
    if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < n_classes:
        raise ConfigError(f"labels must lie in 0..{n_classes - 1} for a {n_classes}-class model")
    counts = torch.bincount(labels, minlength=n_classes).to(torch.float32)
    present = counts > 0
    weights = torch.zeros(n_classes, dtype=torch.float32, device=labels.device)
    weights[present] = labels.numel() / (int(present.sum()) * counts[present])
    return weights


def train_local(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    cfg: LocalTrainConfig,
    *,
    shuffle_seed: int,
) -> TrainStats:
    """Train ``model`` in place for ``cfg.epochs`` over (images, labels) already on its device.

    images: float32 (N, C, H, W) or (N, C, D, H, W); labels: int64 (N,).
    With ``proximal_mu`` > 0 adds the FedProx term mu/2 * ||w - w_start||^2.
    """
    n = int(labels.shape[0])
    if n == 0:
        raise ConfigError("no training samples at this party")
    start = time.perf_counter()
    model.train()
    optimizer = _optimizer(model, cfg)
    loss_fn = nn.CrossEntropyLoss()
    anchor = [p.detach().clone() for p in model.parameters()] if cfg.proximal_mu > 0 else None
    generator = torch.Generator().manual_seed(shuffle_seed)
    total_loss, correct, seen = 0.0, 0, 0
    for _ in range(cfg.epochs):
        order = torch.randperm(n, generator=generator).to(images.device)
        for begin in range(0, n, cfg.batch_size):
            index = order[begin : begin + cfg.batch_size]
            if index.numel() < 2:
                continue  # BatchNorm cannot train on a single sample
            x, y = images[index], labels[index]
            optimizer.zero_grad(set_to_none=True)
            logits = model(x)
            if cfg.balanced_classes and loss_fn.weight is None:
                # Sized by the model's outputs: a class missing from this party still has a slot.
                loss_fn = nn.CrossEntropyLoss(weight=class_weights(labels, int(logits.shape[1])))
            loss = loss_fn(logits, y)
            if anchor is not None:
                prox = sum((p - a).pow(2).sum() for p, a in zip(model.parameters(), anchor, strict=True))
                loss = loss + 0.5 * cfg.proximal_mu * prox
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(index)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(index)
    seconds = time.perf_counter() - start
    return TrainStats(
        loss=total_loss / max(seen, 1),
        accuracy=correct / max(seen, 1),
        num_samples=n,
        seconds=seconds,
    )


def as_tensors(
    images: np.ndarray, labels: np.ndarray, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Float images and int64 labels on ``device`` (the whole split: MedMNIST fits in memory)."""
    return (
        torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).to(device),
        torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64)).to(device),
    )
