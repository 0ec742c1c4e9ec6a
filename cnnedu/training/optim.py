"""The loss, the optimizer and the learning-rate schedule of a torch run, as its config says."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from cnnedu.training.config import TrainConfig


def make_loss(kind: str) -> Callable[..., torch.Tensor]:
    """The loss for what the network outputs: cross-entropy on logits, NLL on log-probabilities, and NLL on
    the log of (clamped) probabilities for a net that ends in Softmax. ``reduction`` as in torch."""
    if kind == "log_probs":
        return F.nll_loss
    if kind == "probs":
        return lambda out, y, reduction="mean": F.nll_loss(torch.log(out.clamp_min(1e-12)), y,
                                                           reduction=reduction)
    return F.cross_entropy


def make_optimizer(config: TrainConfig, model: nn.Module, fused: bool = False) -> torch.optim.Optimizer:
    """The optimizer. ``fused=True`` updates all weights in one kernel (same result, a little faster on a
    CPU; RMSprop has no fused version)."""
    params, lr, wd = model.parameters(), config.learning_rate, config.weight_decay
    extra = {"fused": True} if fused else {}
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum, nesterov=config.nesterov,
                               weight_decay=wd, **extra)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd, **extra)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd, **extra)
    return torch.optim.RMSprop(params, lr=lr, momentum=config.momentum, weight_decay=wd)


def make_scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int):
    """(scheduler or None, True when it steps after every batch rather than every epoch).

    "step" multiplies the learning rate by ``gamma`` every ``step_size`` epochs (StepLR); "cosine" lowers
    it along a half cosine to 0 over the run; "onecycle" warms it up to ``lr`` and back down (OneCycleLR).
    """
    total = config.epochs * steps_per_epoch
    if config.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, config.step_size, config.gamma), False
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total), True
    if config.scheduler == "onecycle":
        cycle_momentum = config.optimizer in ("adam", "adamw") or config.momentum > 0
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.learning_rate, total_steps=total,
                                                   cycle_momentum=cycle_momentum), True
    return None, False
