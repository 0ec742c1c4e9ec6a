"""Train the NumPy ``FullyConnectedNet`` and the same network in plain PyTorch side by side: the same
initial weights (copied from the NumPy params), the same minibatches in the same order, plain SGD (no
momentum) on both, softmax cross-entropy + ``0.5·reg·ΣW²`` as the loss. If the scratch forward and backward
passes are right the two loss curves agree to round-off (~1e-12) at every step.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnedu import budgets
from cnnedu.errors import ScratchError
from cnnedu.scratch.nets import FullyConnectedNet
from cnnedu.scratch.optim import sgd
from cnnedu.scratch.solver import epoch_batches

#: ``on_step(step, total_steps, numpy_loss, torch_loss)`` after every step (step counts from 1).
OnStep = Callable[[int, int, float, float], None]


@dataclass
class TrainingComparison:
    """Both loss curves (the minibatch loss of each step, before its update) and how far apart they got."""

    steps: list[int]
    numpy_loss: list[float]
    torch_loss: list[float]
    max_difference: float  # max |numpy − torch| over all steps
    epochs: int
    batch_size: int
    lr: float
    hidden_dims: list[int]


def torch_twin(model: FullyConnectedNet) -> nn.Sequential:
    """``Linear – ReLU – … – Linear`` in float64 with the NumPy model's weights (nn.Linear stores W as
    (out, in), the transpose of the coursework's (in, out))."""
    layers: list[nn.Module] = []
    for i in range(1, model.num_layers + 1):
        W, b = model.params[f"W{i}"], model.params[f"b{i}"]
        linear = nn.Linear(*W.shape, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear, nn.ReLU()] if i < model.num_layers else [linear]
    return nn.Sequential(*layers)


def _torch_loss(net: nn.Sequential, x: torch.Tensor, y: torch.Tensor, reg: float) -> torch.Tensor:
    weights = [m.weight for m in net if isinstance(m, nn.Linear)]
    return F.cross_entropy(net(x), y) + 0.5 * reg * sum((w * w).sum() for w in weights)


def compare_training(X: np.ndarray, y: np.ndarray, hidden_dims: list[int], *, num_classes: int, epochs: int = 2,
                     batch_size: int = 50, lr: float = 1e-2, reg: float = 0.0, weight_scale: float = 1e-2,
                     seed: int = 0, on_step: OnStep | None = None) -> TrainingComparison:
    """Train both for ``epochs`` epochs of shuffled minibatches (order drawn with ``seed``; the NumPy
    weights too) and record both losses at every step."""
    X, y = _validate(X, y, hidden_dims, num_classes, epochs, batch_size, lr, reg, weight_scale)
    model = FullyConnectedNet(list(hidden_dims), input_dim=X.shape[1], num_classes=num_classes, reg=reg,
                              weight_scale=weight_scale, seed=seed)
    net = torch_twin(model)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    total = epochs * -(-len(X) // batch_size)
    steps, numpy_loss, torch_loss = [], [], []
    for _ in range(epochs):
        for batch in epoch_batches(len(X), batch_size, rng):
            loss, grads = model.loss(X[batch], y[batch])
            for name in model.params:
                model.params[name], _ = sgd(model.params[name], grads[name], {"learning_rate": lr})
            optimizer.zero_grad()
            t_loss = _torch_loss(net, torch.from_numpy(X[batch]), torch.from_numpy(y[batch]), reg)
            t_loss.backward()
            optimizer.step()
            steps.append(len(steps) + 1)
            numpy_loss.append(float(loss))
            torch_loss.append(t_loss.item())
            if on_step is not None:
                on_step(steps[-1], total, numpy_loss[-1], torch_loss[-1])
    difference = max(abs(a - b) for a, b in zip(numpy_loss, torch_loss))
    return TrainingComparison(steps, numpy_loss, torch_loss, difference, epochs, batch_size, lr, list(hidden_dims))


def _real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _whole(name: str, value, low: int, high: int) -> None:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or not low <= value <= high:
        raise ScratchError(f"{name} must be a whole number from {low} to {high}, not {value!r}.",
                           f"give {name} between {low} and {high}")


def _validate(X, y, hidden_dims, num_classes, epochs, batch_size, lr, reg, weight_scale):
    """The data as float64 rows and int64 labels, or a ScratchError saying what to change."""
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim < 2 or X.shape[0] == 0 or X.size > budgets.SCRATCH_MAX_VALUES:
        raise ScratchError(f"X must hold at least one example, as an array (N, features), with at most "
                           f"{budgets.SCRATCH_MAX_VALUES:,} values; got shape {X.shape}.",
                           "give fewer or smaller examples")
    X = X.reshape(len(X), -1).astype(np.float64)
    _whole("num_classes", num_classes, 2, 1000)
    if y.shape != (len(X),) or not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= num_classes:
        raise ScratchError(f"y must be one whole-number label per example, from 0 to {num_classes - 1}.",
                           "give labels 0 … num_classes − 1, as many as the rows of X")
    if not np.isfinite(X).all():
        raise ScratchError("X holds NaN or infinite values.", "remove or replace them")
    if not 0 < len(hidden_dims) <= budgets.SCRATCH_MAX_LAYERS:
        raise ScratchError(f"hidden_dims must list 1 to {budgets.SCRATCH_MAX_LAYERS} hidden layer sizes.",
                           "give e.g. hidden_dims = [20, 10]")
    for width in hidden_dims:
        _whole("a hidden layer size", width, 1, budgets.SCRATCH_MAX_HIDDEN)
    _whole("epochs", epochs, 1, budgets.SCRATCH_MAX_EPOCHS)
    _whole("batch_size", batch_size, 1, len(X))
    for name, value, high in (("lr", lr, 10.0), ("weight_scale", weight_scale, 10.0)):
        if not _real(value) or not (math.isfinite(value) and 0 < value <= high):
            raise ScratchError(f"{name} must be a number above 0 and at most {high:g}, not {value!r}.",
                               f"give {name} = 1e-2")
    if not _real(reg) or not (math.isfinite(reg) and 0 <= reg <= 1e3):
        raise ScratchError(f"reg must be a number from 0 to 1000, not {reg!r}.", "give reg = 0")
    return X, y.astype(np.int64)
