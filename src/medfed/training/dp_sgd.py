"""Sample-level differential privacy at a node: DP-SGD (Abadi et al. 2016) through Opacus.

Each step samples a Poisson batch, clips every sample's gradient to ``max_grad_norm``
and adds Gaussian noise of ``noise_multiplier * max_grad_norm`` before the update.
Batch membership is drawn from the operating system's CSPRNG, not from the study's
seed: privacy amplification by subsampling assumes nobody can replay the sampling.
Opacus draws the noise from torch's generator (its ``secure_mode`` needs torchcsprng,
which is not installable here); this is stated in the study report.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass

import torch
from opacus import GradSampleModule
from opacus.optimizers import DPOptimizer
from opacus.validators import ModuleValidator
from torch import nn

from medfed.errors import ConfigError
from medfed.training.local import LocalTrainConfig, TrainStats, _optimizer


@dataclass(frozen=True)
class DPSGDStep:
    """What the accountant needs from one round of DP-SGD."""

    noise_multiplier: float
    sample_rate: float
    steps: int


def check_dp_compatible(model: nn.Module, model_name: str) -> None:
    """Pre-flight: refuse layers DP-SGD cannot handle, saying why and what to use instead."""
    was_training = model.training
    model.train()  # the validator also insists on training mode; that is not the user's problem
    try:
        problems = ModuleValidator.validate(model, strict=False)
    finally:
        model.train(was_training)
    if not problems:
        return
    detail = "; ".join(str(p) for p in problems[:3])
    has_batchnorm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    fix = (
        "BatchNorm mixes the samples of a batch, so per-sample gradients (and their clipping) are "
        f"undefined; use model {model_name + '_gn'!r} (GroupNorm) instead"
        if has_batchnorm
        else "replace the layers named above"
    )
    raise ConfigError(f"model {model_name!r} cannot train under DP-SGD: {detail}. {fix}")


def train_local_dp(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    cfg: LocalTrainConfig,
    *,
    noise_multiplier: float,
    max_grad_norm: float,
) -> tuple[TrainStats, DPSGDStep]:
    """Train ``model`` in place with DP-SGD for ``cfg.epochs`` expected passes over the data."""
    n = int(labels.shape[0])
    if n == 0:
        raise ConfigError("no training samples at this party")
    sample_rate = min(1.0, cfg.batch_size / n)
    steps = max(1, round(cfg.epochs / sample_rate))
    start = time.perf_counter()
    model.train()
    wrapped = GradSampleModule(model)
    optimizer = DPOptimizer(
        _optimizer(model, cfg),
        noise_multiplier=noise_multiplier,
        max_grad_norm=max_grad_norm,
        expected_batch_size=cfg.batch_size,
    )
    sampler = torch.Generator().manual_seed(_sampling_seed())
    loss_fn = nn.CrossEntropyLoss()
    try:
        with warnings.catch_warnings():
            # Opacus's hooks fire on module outputs when inputs need no gradient: expected here.
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
            total_loss, correct, seen = _dp_steps(
                wrapped, optimizer, loss_fn, images, labels, steps, sample_rate, sampler
            )
    finally:
        wrapped._close()  # remove Opacus hooks: the model goes back to plain use
    stats = TrainStats(
        loss=total_loss / max(seen, 1),
        accuracy=correct / max(seen, 1),
        num_samples=n,
        seconds=time.perf_counter() - start,
    )
    return stats, DPSGDStep(noise_multiplier, sample_rate, steps)


def _sampling_seed() -> int:
    """63 bits from the OS CSPRNG: nobody, the study's author included, can replay the batches."""
    return int.from_bytes(os.urandom(8), "big") >> 1


def _dp_steps(
    wrapped: GradSampleModule,
    optimizer: DPOptimizer,
    loss_fn: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    steps: int,
    sample_rate: float,
    sampler: torch.Generator,
) -> tuple[float, int, int]:
    n = int(labels.shape[0])
    total_loss, correct, seen = 0.0, 0, 0
    for _ in range(steps):
        chosen = (torch.rand(n, generator=sampler) < sample_rate).nonzero().flatten()
        optimizer.zero_grad(set_to_none=True)
        if chosen.numel() == 0:
            # An empty Poisson batch is a step the accountant still counts; skipping the
            # update only makes the released model less noisy, never less private.
            continue
        index = chosen.to(images.device)
        logits = wrapped(images[index])
        loss = loss_fn(logits, labels[index])
        loss.backward()
        optimizer.step()
        total_loss += float(loss.detach()) * len(index)
        correct += int((logits.argmax(1) == labels[index]).sum())
        seen += len(index)
    return total_loss, correct, seen
