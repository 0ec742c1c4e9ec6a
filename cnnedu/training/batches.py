"""The one batch preparation of the torch trainer: uint8 images on the device become the float batches the
network sees (0..1, random flips and crops when training, normalised), and the batched evaluation of a
split. Also how many steps an epoch has and how big an evaluation batch may be."""

from __future__ import annotations

import torch
from torch import nn

from cnnedu.arch.spec import Spec
from cnnedu.training.config import TrainConfig


class Batches:
    """Turns uint8 images on the device into the float batches the network sees: 0..1 floats, then (when
    training) random flips and crops, then normalisation — on the whole batch at once."""

    def __init__(self, config: TrainConfig, mean: list[float], std: list[float], device: torch.device):
        from cnnedu.data import augment

        self.augment = augment
        self.flip, self.crop, self.normalize = config.flip, config.crop, config.normalize
        self.channels_last = False
        shape = (1, len(mean), 1, 1)
        # augment.normalize does the same, but checks its arguments on every call (a GPU sync per batch)
        self.mean = torch.tensor(mean, dtype=torch.float32, device=device).view(shape)
        self.inv_std = 1.0 / torch.tensor(std, dtype=torch.float32, device=device).view(shape)

    def __call__(self, x: torch.Tensor, train: bool, generator: torch.Generator | None = None) -> torch.Tensor:
        x = self.augment.to_float(x)
        if train and self.crop > 0:
            x = self.augment.random_crop(x, self.crop, generator)
        if train and self.flip > 0:
            x = self.augment.random_flip(x, self.flip, generator)
        if self.normalize:
            x = (x - self.mean) * self.inv_std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, prepare: Batches, loss_fn, batch_size: int,
             predictions: bool = False) -> tuple[float, float, torch.Tensor | None]:
    """(mean loss, accuracy, predicted classes or None) over uint8 images ``x``, in eval mode, batched."""
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.long)
    preds = []
    for i in range(0, len(y), batch_size):
        xb, yb = prepare(x[i:i + batch_size], train=False), y[i:i + batch_size]
        out = model(xb)
        total_loss += loss_fn(out, yb, reduction="sum")
        pred = out.argmax(1)
        correct += (pred == yb).sum()
        if predictions:
            preds.append(pred)
    model.train(was_training)
    n = max(1, len(y))
    return total_loss.item() / n, correct.item() / n, torch.cat(preds) if predictions else None



def epoch_steps(n: int, batch: int) -> int:
    """Steps per epoch over ``n`` images in batches of ``batch``: a last batch of 1 is left out (it would
    break BatchNorm), so 65 images in batches of 64 make 1 step and 66 make 2."""
    return n // batch + (1 if n % batch > 1 else 0)



def eval_batch(spec: Spec, config: TrainConfig, batch: int) -> int:
    """The evaluation batch: ``eval_batch_size``, made smaller when it would need more memory than a
    training batch (1,000 images of a wide network can need far more than 64 with gradients)."""
    from cnnedu.arch.analysis import analyze, eval_batch_limit, training_memory

    a = analyze(spec)
    if a.error is not None:
        return config.eval_batch_size
    est = training_memory(spec, batch, config.optimizer, config.momentum, analysis=a)
    return max(1, min(config.eval_batch_size, max(batch, eval_batch_limit(a, est))))

