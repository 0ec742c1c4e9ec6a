"""The loss, the optimizer and the learning-rate schedule of a torch run, as its config says."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from cnnedu.training.config import TrainConfig


def make_loss(kind: str, loss: str = "cross_entropy") -> Callable[..., torch.Tensor]:
    """The loss ``loss`` (``TrainConfig.loss``) for what the network outputs (``kind``: "logits",
    "log_probs" or "probs"). Every one is called as ``fn(out, y, reduction="mean" | "sum")``; "sum" adds
    up one number per image, so a test loss is the same kind of number as a training loss.

    - "cross_entropy": cross-entropy on logits, NLL on log-probabilities, and NLL on the log of (clamped)
      probabilities for a net that ends in Softmax — the classification loss whatever the last layer.
    - "nll": ``F.nll_loss(F.log_softmax(out))``: equal to cross-entropy on logits and on log-probabilities.
    - "mse", "l1": the raw outputs against one-hot targets, averaged over the classes (``F.mse_loss`` /
      ``F.l1_loss`` of ``out`` and ``one_hot(y)``).
    - "l1_index": seed 001 Exercise 3 exactly: ``nn.L1Loss()(y_hat, y_true)`` with ``y_hat`` the logits
      [N, C] and ``y_true`` the class indices [N]. torch broadcasts the labels along the *rows*: with a
      batch of N = C = 10 images, output j of every image is compared with the label of image j of the
      batch — not with the image's own class. It is not a classification loss at all (and with any other
      batch size torch refuses the shapes). Here a batch is cut into blocks of C images and each block gets
      exactly that; a last, shorter block of m images repeats its m labels along the row.
    """
    if loss == "nll":
        return lambda out, y, reduction="mean": F.nll_loss(F.log_softmax(out, dim=1), y, reduction=reduction)
    if loss in ("mse", "l1"):
        return partial(_one_hot_loss, F.mse_loss if loss == "mse" else F.l1_loss)
    if loss == "l1_index":
        return _l1_index
    if kind == "log_probs":
        return F.nll_loss
    if kind == "probs":
        return lambda out, y, reduction="mean": F.nll_loss(torch.log(out.clamp_min(1e-12)), y,
                                                           reduction=reduction)
    return F.cross_entropy


def _per_image(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """[N, C] element losses → their mean ("mean") or the sum over images of each image's mean ("sum")."""
    per_image = values.mean(dim=1)
    return per_image.sum() if reduction == "sum" else per_image.mean()


def _one_hot_loss(elementwise, out: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    target = F.one_hot(y, out.shape[1]).to(out.dtype)
    return _per_image(elementwise(out, target, reduction="none"), reduction)


def _l1_index(out: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    n, c = out.shape
    start = torch.arange(n, device=out.device) // c * c  # the first image of each row's block
    size = (n - start).clamp(max=c)  # the block's number of images
    cols = torch.arange(c, device=out.device)
    target = y[start[:, None] + cols[None, :] % size[:, None]].to(out.dtype)
    return _per_image((out - target).abs(), reduction)


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
