"""The torch trainer's run, step by step: set up (device, data on the device, network, loss, optimizer,
schedule; every random thing seeded), train one epoch (shuffled batches, a loss check, "step" events),
measure it (validation, test, the "epoch" event), and end (cancelled, diverged, out of memory or done).

The whole dataset is moved to the training device *once*, like KellerJordan/airbench does. Each step
takes a shuffled slice of it and ``Batches`` turns it into floats, flips, crops and normalises the whole
batch at once. There is no DataLoader and no per-image Python in the loop, which is what makes it fast on
a CPU.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from cnnedu.arch.nets import build_model, count_params, output_kind
from cnnedu.errors import TrainError
from cnnedu.training.advice import SOFTMAX_WARNING, cancelled_message, divergence_message, explosion_limit
from cnnedu.training.batches import Batches, epoch_steps, eval_batch, evaluate
from cnnedu.training.checks import pick_device, resolve_spec
from cnnedu.training.config import TrainConfig
from cnnedu.training.events import (
    Diverged,
    OnEvent,
    Stopped,
    TrainResult,
    epoch_event,
    finish,
    start_event,
    step_event,
)
from cnnedu.training.optim import make_loss, make_optimizer, make_scheduler
from cnnedu.training.run_data import training_data


@dataclass
class _Run:
    """What the steps of one torch run share."""

    config: TrainConfig
    device: torch.device
    result: TrainResult
    prepare: Batches
    loss_fn: Callable[..., torch.Tensor]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    per_batch: bool  # the scheduler steps after every batch, not every epoch
    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor] | None
    test: tuple[torch.Tensor, torch.Tensor]
    batch: int
    steps_per_epoch: int
    eval_batch: int
    log_every: int
    check_every: int
    step: int = 0
    first_loss: torch.Tensor | None = None

    @property
    def model(self) -> nn.Module:
        return self.result.model

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]


def train_torch(config: TrainConfig, emit: OnEvent, stop: Callable[[], bool],
                on_epoch: Callable[[TrainResult], None] | None = None) -> TrainResult:
    """``cnnedu.training.train.train`` for ``engine="torch"``."""
    t_start = time.perf_counter()
    run = _setup(config, t_start, emit)
    shuffle_gen = torch.Generator().manual_seed(config.seed)
    aug_gen = torch.Generator().manual_seed(config.seed + 1)  # on the CPU: the same flips on every device
    t_train, train_seconds, preds = time.perf_counter(), 0.0, None
    result = run.result
    try:
        for epoch in range(1, config.epochs + 1):
            t_epoch = time.perf_counter()
            losses, correct, seen = _epoch(run, epoch, shuffle_gen, aug_gen, stop, emit)
            if run.scheduler is not None and not run.per_batch:
                run.scheduler.step()
            epoch_s = time.perf_counter() - t_epoch
            train_seconds += epoch_s
            event, preds = _end_epoch(run, epoch, losses, correct, seen, epoch_s, t_train)
            emit(event)
            if on_epoch is not None:
                on_epoch(result)
    except Stopped:
        result.status, result.message = "cancelled", cancelled_message(result, run.step)
    except Diverged as div:
        result.status = "failed"
        first = float(run.first_loss[0]) if run.first_loss is not None else None
        result.message = divergence_message(config, div.epoch, div.step, div.value, first)
    except RuntimeError as err:
        if "out of memory" in str(err).lower():
            raise TrainError(f"The batch does not fit in the memory of {run.device}.",
                             f"Try a smaller batch size than {run.batch}.") from None
        raise
    return finish(result, run.step, t_start, train_seconds, run.test[1], preds, emit)


def _setup(config: TrainConfig, t_start: float, emit: OnEvent) -> _Run:
    """Everything a run needs before its first step, on its device; emits the "start" event."""
    config.validate()
    if config.threads:
        torch.set_num_threads(config.threads)
    device = pick_device(config.device)
    spec = resolve_spec(config.arch)
    kind = output_kind(spec)
    warnings: list[str] = [SOFTMAX_WARNING] if kind == "probs" else []
    d = training_data(config, spec, warnings)  # uint8, a validation split, the normalisation statistics
    n = len(d.train_y)
    batch = min(config.batch_size, n)
    val = None if d.val_x is None else (d.val_x.to(device), d.val_y.to(device))
    prepare = Batches(config, d.mean, d.std, device)
    model = _model(spec, device, prepare, config.seed)
    fused = device.type == "cpu" and config.optimizer != "rmsprop" and os.environ.get("CNNEDU_FUSED", "1") != "0"
    optimizer = make_optimizer(config, model, fused=fused)
    steps_per_epoch = epoch_steps(n, batch)
    scheduler, per_batch = make_scheduler(config, optimizer, steps_per_epoch)
    log_every = config.log_every or max(1, steps_per_epoch // 50)
    check_every = 1 if device.type == "cpu" else log_every  # .item() is free on CPU, a sync on a GPU
    result = TrainResult("done", "", config, spec, model, list(d.ds.classes), d.mean, d.std, kind, str(device),
                         count_params(model)[0], d.info(spec), warnings=warnings)
    run = _Run(config, device, result, prepare, make_loss(kind, config.loss), optimizer, scheduler, per_batch,
               (d.train_x.to(device), d.train_y.to(device)), val, (d.ds.test_x.to(device), d.ds.test_y.to(device)),
               batch, steps_per_epoch, eval_batch(spec, config, batch), log_every, check_every)
    emit(start_event(result, torch.get_num_threads(), steps_per_epoch, batch, t_start))
    return run


def _model(spec: Any, device: torch.device, prepare: Batches, seed: int) -> nn.Module:
    """The network on ``device``, its weights drawn from the run's seed (``torch.manual_seed`` first)."""
    torch.manual_seed(seed)
    try:
        model = build_model(spec, device=device)
    except RuntimeError as err:
        raise TrainError(f"The network could not be built on {device}: {str(err).splitlines()[0]}") from None
    # On a CPU, convolutions run faster with the channels-last memory layout (oneDNN's native one: +20-35%
    # on mnist-cnn, measured); the numbers are the same, only their order in memory differs.
    channels_last = device.type == "cpu" and os.environ.get("CNNEDU_CHANNELS_LAST", "1") != "0"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    prepare.channels_last = channels_last
    return model


def _epoch(run: _Run, epoch: int, shuffle_gen: torch.Generator, aug_gen: torch.Generator,
           stop: Callable[[], bool], emit: OnEvent) -> tuple[torch.Tensor, torch.Tensor, int]:
    """One pass over shuffled batches: (the loss of every step, correct predictions, images seen), with a
    loss check every ``check_every`` steps and a "step" event every ``log_every`` steps."""
    model, (train_x, train_y), steps, batch = run.model, run.train, run.steps_per_epoch, run.batch
    model.train()
    losses = torch.zeros(steps, device=run.device)  # one slot per step: no sync per step
    correct = torch.zeros((), dtype=torch.long, device=run.device)
    seen = checked = logged = 0  # steps of this epoch already checked for NaN / reported
    limit = explosion_limit(run.result.spec.num_classes)
    perm = torch.randperm(len(train_y), generator=shuffle_gen).to(run.device)
    for i in range(steps):
        if stop():
            raise Stopped
        idx = perm[i * batch:(i + 1) * batch]
        xb, yb = run.prepare(train_x[idx], train=True, generator=aug_gen), train_y[idx]
        out = model(xb)
        loss = run.loss_fn(out, yb)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        if run.per_batch:
            run.scheduler.step()
        run.step += 1
        seen += len(yb)
        losses[i] = loss.detach()
        if run.first_loss is None:
            run.first_loss = losses[:1]
        correct += (out.detach().argmax(1) == yb).sum()
        last = i + 1 == steps
        if (i + 1 - checked) >= run.check_every or last:
            check_loss(losses, checked, i + 1, epoch, limit)
            checked = i + 1
        if (i + 1 - logged) >= run.log_every or last:
            emit(step_event(run.step, epoch, i + 1, steps, losses[logged:i + 1].mean().item(), run.lr))
            logged = i + 1
    return losses, correct, seen


def _end_epoch(run: _Run, epoch: int, losses: torch.Tensor, correct: torch.Tensor, seen: int, epoch_s: float,
               t_train: float) -> tuple[dict, torch.Tensor | None]:
    """After an epoch: validation and test, the "epoch" event (also kept in ``result.history``); returns it
    with the last epoch's test predictions."""
    train = losses.mean().item(), correct.item() / max(1, seen)
    val = (None, None)
    if run.val is not None:
        val = evaluate(run.model, *run.val, run.prepare, run.loss_fn, run.eval_batch)[:2]
    test_loss, test_acc, preds = evaluate(run.model, *run.test, run.prepare, run.loss_fn, run.eval_batch,
                                          predictions=epoch == run.config.epochs)
    event = epoch_event(run.result, epoch, run.step, train, val, (test_loss, test_acc), run.lr, seen, epoch_s,
                        t_train)
    return event, preds


def check_loss(losses: torch.Tensor, start: int, end: int, epoch: int, limit: float) -> None:
    """Raise ``Diverged`` at the first step in ``losses[start:end]`` whose loss is NaN, infinite or above
    ``limit``."""
    chunk = losses[start:end]
    bad = ~torch.isfinite(chunk) | (chunk > limit)
    if bool(bad.any()):
        j = int(bad.nonzero()[0, 0])
        raise Diverged(epoch, start + j + 1, float(chunk[j]))
