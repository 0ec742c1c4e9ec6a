"""What a run reports and returns: its events, the speed and time-left maths in them, and ``TrainResult``.

Events are plain dicts with a ``"kind"``; the run store (``cnnedu.runs.store``) writes them to SQLite, the CLI
prints them. Epochs and steps count from 1; accuracies are fractions (0.93, not 93). Both engines make them
with the functions here.

- ``start``: config (dict), spec (dict), dataset {name, title, classes, source, n_train, n_val, n_test,
  input_shape}, params, device, threads, output ("logits" | "probs" | "log_probs"), steps_per_epoch,
  epochs, batch_size, mean, std, warnings (list of sentences), setup_s.
- ``step`` (about 50 per epoch, or every ``log_every`` steps): step (global), epoch, batch, batches,
  loss (mean since the previous step event), lr.
- ``epoch``: epoch, step, train_loss, train_acc, val_loss, val_acc (None without a validation split),
  test_loss, test_acc, lr, images_per_s, epoch_s, elapsed_s, eta_s.
- ``done`` | ``cancelled`` | ``failed``: message, test_acc, test_loss, epochs_done, steps, seconds,
  train_seconds, per_class_acc, confusion, classes, warnings ("failed" before training: message only).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cnnedu.arch.spec import Spec
from cnnedu.training.advice import chance_warning
from cnnedu.training.config import TrainConfig

Event = dict[str, Any]
OnEvent = Callable[[Event], None]


class Stopped(Exception):
    """``should_stop()`` said stop: the run ends "cancelled" before its next batch."""


class Diverged(Exception):
    """The loss at ``epoch``, ``step`` became NaN, infinite or exploded (``value``)."""

    def __init__(self, epoch: int, step: int, value: float):
        super().__init__(f"loss {value} at epoch {epoch}, step {step}")
        self.epoch, self.step, self.value = epoch, step, value


@dataclass
class TrainResult:
    """What a run produced. ``status`` is "done", "cancelled" or "failed" (the loss diverged)."""

    status: str
    message: str
    config: TrainConfig
    spec: Spec
    model: nn.Module
    classes: list[str]
    mean: list[float]  # per channel, 0..1 units; [0, ...] and [1, ...] when normalize is off
    std: list[float]
    output: str  # "logits" | "probs" | "log_probs"
    device: str
    params: int
    dataset: dict[str, Any]
    history: list[Event] = field(default_factory=list)  # the "epoch" events
    warnings: list[str] = field(default_factory=list)
    test_acc: float | None = None
    test_loss: float | None = None
    per_class_acc: list[float | None] | None = None  # in the order of ``classes``
    confusion: list[list[int]] | None = None  # rows: true class, columns: predicted class
    epochs_done: int = 0
    steps: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """Everything but the model, as JSON-ready values (what the run store keeps as results)."""
        return {
            "status": self.status, "message": self.message, "test_acc": self.test_acc,
            "test_loss": self.test_loss, "epochs_done": self.epochs_done, "steps": self.steps,
            "seconds": round(self.seconds, 3), "classes": self.classes, "per_class_acc": self.per_class_acc,
            "confusion": self.confusion, "mean": self.mean, "std": self.std, "output": self.output,
            "device": self.device, "params": self.params, "dataset": self.dataset, "warnings": self.warnings,
            "final": self.history[-1] if self.history else None,
        }


def start_event(result: TrainResult, threads: int, steps_per_epoch: int, batch: int, t_start: float) -> Event:
    """The "start" event of a run whose ``result`` has just been made."""
    config = result.config
    return {"kind": "start", "config": config.to_dict(), "spec": result.spec.to_dict(), "dataset": result.dataset,
            "params": result.params, "device": result.device, "threads": threads, "output": result.output,
            "steps_per_epoch": steps_per_epoch, "epochs": config.epochs, "batch_size": batch,
            "mean": result.mean, "std": result.std, "warnings": list(result.warnings),
            "setup_s": round(time.perf_counter() - t_start, 3)}


def step_event(step: int, epoch: int, batch: int, batches: int, loss: float, lr: float) -> Event:
    return {"kind": "step", "step": step, "epoch": epoch, "batch": batch, "batches": batches, "loss": loss,
            "lr": lr}


def epoch_event(result: TrainResult, epoch: int, step: int, train: tuple[float, float],
                val: tuple[float | None, float | None], test: tuple[float, float], lr: float, seen: int,
                epoch_s: float, t_train: float) -> Event:
    """The "epoch" event (train/val/test as (loss, accuracy); the speed is ``seen`` training images over
    ``epoch_s`` seconds, the time left the mean epoch so far times the epochs to go), kept in
    ``result.history`` with the run's progress."""
    elapsed = time.perf_counter() - t_train
    event = {"kind": "epoch", "epoch": epoch, "step": step, "train_loss": train[0], "train_acc": train[1],
             "val_loss": val[0], "val_acc": val[1], "test_loss": test[0], "test_acc": test[1], "lr": lr,
             "images_per_s": seen / max(epoch_s, 1e-9), "epoch_s": epoch_s, "elapsed_s": elapsed,
             "eta_s": elapsed / epoch * (result.config.epochs - epoch)}
    result.history.append(event)
    result.epochs_done, result.test_loss, result.test_acc = epoch, test[0], test[1]
    return event


def confusion_matrix(y: torch.Tensor, pred: torch.Tensor, k: int) -> torch.Tensor:
    """[k, k] counts: row = true class, column = predicted class."""
    return torch.bincount(y.cpu() * k + pred.cpu(), minlength=k * k).view(k, k)


def finish(result: TrainResult, step: int, t_start: float, train_seconds: float, test_y: torch.Tensor,
           preds: torch.Tensor | None, emit: OnEvent) -> TrainResult:
    """The end of a run (both engines): the per-class accuracy and confusion matrix of a finished run
    (``preds``: the last epoch's test predictions), the final message, and the done/cancelled/failed
    event."""
    config = result.config
    result.steps = step
    result.seconds = time.perf_counter() - t_start
    if result.status == "done":
        k = len(result.classes)
        cm = confusion_matrix(test_y, preds, k)
        rows = cm.sum(1)
        result.confusion = cm.tolist()
        result.per_class_acc = [float(cm[c, c] / rows[c]) if rows[c] > 0 else None for c in range(k)]
        hint = chance_warning(config, result.test_acc, k)
        if hint:
            result.warnings.append(hint)
        result.message = (f"Finished {config.epochs} epoch{'s' if config.epochs > 1 else ''}: test accuracy "
                          f"{result.test_acc:.2%}.")
    emit({"kind": result.status, "message": result.message, "test_acc": result.test_acc,
          "test_loss": result.test_loss, "epochs_done": result.epochs_done, "steps": step,
          "seconds": result.seconds, "train_seconds": train_seconds, "per_class_acc": result.per_class_acc,
          "confusion": result.confusion, "classes": result.classes, "warnings": list(result.warnings)})
    return result
