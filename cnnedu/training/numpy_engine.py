"""The NumPy engine: ``TrainConfig(engine="numpy")`` (``python -m cnnedu train --engine numpy``) trains a
fully connected network with seed 003's NumPy ``FullyConnectedNet`` (cnnedu/scratch/nets.py) instead of
PyTorch: float64, on the CPU, the coursework's forward and backward passes and update rules. It reports
the same events as the torch trainer (cnnedu/training/loop.py), so the run store, the Train page's live curves,
the Runs comparison and the CLI's progress lines show it like any run.

What it shares with the torch trainer, so that the two runs of one config can be compared:

- the data: the same images, validation split and normalisation ``(pixel/255 − mean) / std``, as float64;
- the batches: the same shuffled order (``torch.randperm`` with the run's seed), the same steps per epoch;
- the initial weights: the torch network is built from the spec with the run's seed and its weights are
  copied into the NumPy net. That is PyTorch's initialisation of ``nn.Linear`` (weights and biases
  uniform in ±1/√fan_in), not the coursework's ``weight_scale·randn`` with zero biases: a numpy run and a
  torch run of one config start from the same weights and see the same batches, so with plain SGD (or
  momentum at a constant learning rate) their losses agree to float32 round-off;
- the "step" schedule: lr × gamma every ``step_size`` epochs (the coursework Solver's ``lr_decay`` is
  the case step_size = 1).

What differs, said in the run's warnings: SGD with momentum is the coursework's ``v ← μ·v − lr·dw;
w ← w + v`` (scratch/optim.py), the same path as PyTorch's at a constant learning rate but not after a
step drop; weight decay is the coursework's ``0.5·reg·ΣW²`` (weights only, and part of the training
loss); BatchNorm keeps the biased running variance.

At the end of every epoch the NumPy weights are copied back into the torch network (``result.model``),
so the run store saves a ``model.pt`` like any run's: Look inside, Predict and ONNX export work on it.

This module sits beside ``loop.py`` rather than in ``cnnedu/scratch/``: scratch/ is the coursework's
library with the coursework's API and knows nothing of runs; this is the run machinery's second engine.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnedu.arch.nets import build_model, count_params
from cnnedu.arch.spec import Spec, params
from cnnedu.errors import TrainError
from cnnedu.scratch.layers import softmax_loss
from cnnedu.scratch.nets import FullyConnectedNet
from cnnedu.scratch.optim import sgd, sgd_momentum
from cnnedu.training.advice import cancelled_message, divergence_message, explosion_limit
from cnnedu.training.batches import epoch_steps
from cnnedu.training.checks import resolve_spec
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
from cnnedu.training.run_data import training_data

USE_TORCH = 'Use the torch engine for this network (engine "torch"; in the CLI --engine torch).'
_SHAPE = ("Seed 003's FullyConnectedNet is Flatten, then blocks of Linear – [BatchNorm1d] – ReLU – "
          "[Dropout], then a last Linear")


def check_numpy_settings(config: TrainConfig) -> None:
    """Refuse the settings the NumPy engine cannot honour (``TrainConfig.validate`` calls this)."""
    if config.optimizer != "sgd":
        raise TrainError(f"The NumPy engine trains with SGD (with or without momentum) only, not "
                         f"{config.optimizer}: the coursework's NumPy optimizers are sgd and sgd_momentum.",
                         'Choose optimizer "sgd", or use the torch engine for this optimizer.')
    if config.loss != "cross_entropy":
        raise TrainError(f"The NumPy engine trains with seed 003's softmax loss (cross-entropy) only, not "
                         f"{config.loss}.", 'Choose loss "cross_entropy", or use the torch engine.')
    if config.nesterov:
        raise TrainError("The NumPy engine has no Nesterov momentum (the coursework's sgd_momentum is the "
                         "plain one).", "Turn nesterov off, or use the torch engine.")
    if config.scheduler not in ("none", "step"):
        raise TrainError(f"The NumPy engine keeps the learning rate constant or lowers it in steps "
                         f"(the coursework's lr_decay); it has no {config.scheduler} schedule.",
                         'Choose scheduler "none" or "step", or use the torch engine.')
    if config.device not in ("auto", "cpu"):
        raise TrainError(f"The NumPy engine runs on the CPU only (NumPy cannot use a GPU), not on "
                         f"{config.device}.", 'Choose device "cpu" (or "auto"), or use the torch engine.')
    if config.flip or config.crop:
        # refused rather than ignored: a run that silently skipped them would be compared with torch runs
        # that did not; and a flip changes what a gaze image means (left ↔ right).
        raise TrainError("The NumPy engine trains on the images as they are: it does not flip or crop them "
                         "(the coursework's NumPy network has no augmentation).",
                         "Turn flip and crop off (0), or use the torch engine to augment.")


@dataclass(frozen=True)
class NumpyLayout:
    """A spec as ``FullyConnectedNet`` arguments."""

    input_dim: int
    hidden_dims: list[int]
    num_classes: int
    batchnorm: bool = False
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1  # PyTorch's convention (the spec's); the coursework's momentum is 1 − this
    keep: float = 1.0  # dropout keep probability (the coursework's p); 1 = no dropout


def numpy_layout(spec: Spec) -> NumpyLayout:
    """The NumPy network a spec describes, or a ``TrainError`` naming the first layer it cannot express."""
    layers, names = spec.layers, spec.names()

    def refuse(i: int, why: str, fix: str = USE_TORCH) -> TrainError:
        where = f"layer {i} ({names[i]}, {layers[i]['type']})" if i < len(layers) else "the end"
        return TrainError(f"The NumPy engine cannot train this network: {where} {why}. {_SHAPE}.", fix)

    def kind(i: int) -> str | None:
        return layers[i]["type"] if i < len(layers) else None

    if kind(0) != "Flatten":
        raise refuse(0, "comes first; the NumPy network starts by flattening the image into one vector")
    hidden: list[int] = []
    bns: list[dict] = []
    keeps: list[float] = []
    i = 1
    while True:
        if kind(i) != "Linear":
            if kind(i) is None:
                raise refuse(i, f"has no last Linear layer with out_features = {spec.num_classes}")
            raise refuse(i, "is not a layer the NumPy network has here (a Linear layer is expected)")
        linear = params(layers[i])
        if not linear["bias"]:
            raise refuse(i, "has no bias; every Linear layer of the NumPy network has one")
        if i == len(layers) - 1:
            break
        hidden.append(int(linear["out_features"]))
        i += 1
        if kind(i) == "BatchNorm1d":
            bn = params(layers[i])
            if not bn["affine"]:
                raise refuse(i, "has affine off; the NumPy batchnorm always learns gamma and beta")
            bns.append(bn)
            i += 1
        if kind(i) in ("Softmax", "LogSoftmax"):
            raise refuse(i, "is not needed: the NumPy network ends with a Linear layer and its loss "
                            "(softmax_loss) applies the softmax itself",
                         f"Remove the {kind(i)}, or use the torch engine.")
        if kind(i) != "ReLU":
            raise refuse(i, "follows a hidden Linear layer; the NumPy network has a ReLU there "
                            "(after a BatchNorm1d, if any)")
        i += 1
        if kind(i) == "Dropout":
            keeps.append(1.0 - float(params(layers[i])["p"]))
            i += 1
    if bns and len(bns) != len(hidden):
        raise TrainError("The NumPy engine cannot train this network: it has a BatchNorm1d after some "
                         "hidden Linear layers but not all; the NumPy network has one after every hidden "
                         "layer or none.", USE_TORCH)
    if keeps and (len(keeps) != len(hidden) or len(set(keeps)) > 1):
        raise TrainError("The NumPy engine cannot train this network: the NumPy network has one Dropout "
                         "after every hidden ReLU, all with the same p, or none.", USE_TORCH)
    bn = bns[0] if bns else {"eps": 1e-5, "momentum": 0.1}
    return NumpyLayout(math.prod(spec.input_shape), hidden, spec.num_classes, bool(bns), float(bn["eps"]),
                       float(bn["momentum"]), keeps[0] if keeps else 1.0)


def numpy_notes(config: TrainConfig, layout: NumpyLayout) -> list[str]:
    """The run's warnings about where the NumPy engine follows the coursework rather than PyTorch."""
    notes = ["NumPy engine: seed 003's FullyConnectedNet in float64 on the CPU, starting from the weights "
             "PyTorch would start from (the same seed), on the same batches as a torch run."]
    if config.momentum > 0:
        note = ("SGD with momentum follows the coursework: v ← μ·v − lr·dw, w ← w + v (PyTorch: b ← μ·b + dw, "
                "w ← w − lr·b). At a constant learning rate both take the same steps")
        if config.scheduler == "step":
            note += ("; after each step drop they differ: the coursework's velocity still carries the old "
                     "learning rate and slows down gradually, PyTorch's uses the new one at once")
        notes.append(note + ".")
    if config.weight_decay > 0:
        notes.append(f"Weight decay {config.weight_decay:g} is the coursework's L2 term 0.5·reg·ΣW² with reg = "
                     f"{config.weight_decay:g}: on the weights only (PyTorch's weight_decay decays the biases "
                     "too), and the training loss includes it.")
    if layout.batchnorm:
        notes.append("BatchNorm1d keeps the coursework's running variance (the biased one, σ²; PyTorch keeps "
                     "σ²·N/(N−1)).")
    return notes


# ------------------------------------------------------------------------------------------- the weights


def _modules(model: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, kind)]


def copy_from_torch(net: FullyConnectedNet, model: nn.Module) -> None:
    """Set the NumPy net's weights to the torch network's (``W`` is (in, out): the transpose of
    ``nn.Linear.weight``); BatchNorm's gamma and beta are its weight and bias."""
    for i, linear in enumerate(_modules(model, nn.Linear), start=1):
        net.params[f"W{i}"] = linear.weight.detach().double().numpy().T.copy()
        net.params[f"b{i}"] = linear.bias.detach().double().numpy().copy()
    for i, bn in enumerate(_modules(model, nn.BatchNorm1d), start=1):
        net.params[f"gamma{i}"] = bn.weight.detach().double().numpy().copy()
        net.params[f"beta{i}"] = bn.bias.detach().double().numpy().copy()


@torch.no_grad()
def copy_to_torch(net: FullyConnectedNet, model: nn.Module) -> None:
    """The reverse of :func:`copy_from_torch`, with BatchNorm's running averages (before the first
    training step the NumPy net has none: the torch ones stay)."""
    for i, linear in enumerate(_modules(model, nn.Linear), start=1):
        linear.weight.copy_(torch.from_numpy(net.params[f"W{i}"].T))
        linear.bias.copy_(torch.from_numpy(net.params[f"b{i}"]))
    for i, bn in enumerate(_modules(model, nn.BatchNorm1d), start=1):
        bn.weight.copy_(torch.from_numpy(net.params[f"gamma{i}"]))
        bn.bias.copy_(torch.from_numpy(net.params[f"beta{i}"]))
        running = net.bn_params[i - 1]
        if "running_mean" in running:
            bn.running_mean.copy_(torch.from_numpy(running["running_mean"]))
            bn.running_var.copy_(torch.from_numpy(running["running_var"]))


def make_net(layout: NumpyLayout, model: nn.Module, reg: float) -> FullyConnectedNet:
    """The NumPy network of ``layout`` with the torch network's weights."""
    net = FullyConnectedNet(list(layout.hidden_dims), input_dim=layout.input_dim, num_classes=layout.num_classes,
                            dropout_keep_ratio=layout.keep, reg=reg,
                            normalization="batchnorm" if layout.batchnorm else None)
    for bn_param in net.bn_params:
        bn_param["eps"], bn_param["momentum"] = layout.bn_eps, 1.0 - layout.bn_momentum
    copy_from_torch(net, model)
    return net


# ---------------------------------------------------------------------------------------------- the data


class _Floats:
    """uint8 images (N, C, H, W) → the float64 rows (N, C·H·W) the NumPy network sees: /255, then
    (x − mean) / std per channel, as the torch trainer does in float32."""

    def __init__(self, mean: list[float], std: list[float]):
        self.mean = np.asarray(mean, dtype=np.float64).reshape(1, -1, 1, 1)
        self.std = np.asarray(std, dtype=np.float64).reshape(1, -1, 1, 1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x.astype(np.float64) / 255.0 - self.mean) / self.std).reshape(len(x), -1)


def evaluate(net: FullyConnectedNet, x: np.ndarray, y: np.ndarray, floats: _Floats, batch: int,
             predictions: bool = False) -> tuple[float, float, np.ndarray | None]:
    """(mean softmax loss, accuracy, predicted classes or None) in test mode, batched."""
    total, correct, preds = 0.0, 0, []
    for i in range(0, len(y), batch):
        scores, yb = net.loss(floats(x[i:i + batch])), y[i:i + batch]
        total += softmax_loss(scores, yb)[0] * len(yb)
        pred = scores.argmax(1)
        correct += int((pred == yb).sum())
        if predictions:
            preds.append(pred)
    n = max(1, len(y))
    return total / n, correct / n, np.concatenate(preds) if predictions else None


# --------------------------------------------------------------------------------------------- the loop


@dataclass
class _Run:
    """What the loop works on: the network, its update rule and its state, the data as NumPy arrays (``val``
    and ``test``: (images, labels)), and the counters (``step``: steps done in the run; ``first``: the
    first loss)."""

    config: TrainConfig
    net: FullyConnectedNet
    rule: Callable
    optim: dict[str, dict]
    floats: _Floats
    x: np.ndarray
    y: np.ndarray
    batch: int
    steps_per_epoch: int
    log_every: int
    limit: float
    test: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray] | None
    step: int = 0
    first: float | None = None

    @property
    def lr(self) -> float:
        return next(iter(self.optim.values()))["learning_rate"]


def _epoch(run: _Run, perm: np.ndarray, epoch: int, stop: Callable[[], bool],
           emit: OnEvent) -> tuple[list[float], int, int]:
    """One pass over the batches of ``perm``: (the loss of every step, correct predictions, images seen),
    with a "step" event every ``log_every`` steps, as the torch trainer does."""
    losses: list[float] = []
    correct = seen = logged = 0
    for i in range(run.steps_per_epoch):
        if stop():
            raise Stopped
        idx = perm[i * run.batch:(i + 1) * run.batch]
        yb = run.y[idx]
        loss, grads = run.net.loss(run.floats(run.x[idx]), yb)
        for name, w in run.net.params.items():
            run.net.params[name], run.optim[name] = run.rule(w, grads[name], run.optim[name])
        run.step += 1
        losses.append(loss)
        seen += len(yb)
        correct += int((run.net.last_scores.argmax(1) == yb).sum())
        run.first = loss if run.first is None else run.first
        if not math.isfinite(loss) or loss > run.limit:
            raise Diverged(epoch, i + 1, loss)
        if (i + 1 - logged) >= run.log_every or i + 1 == run.steps_per_epoch:
            emit(step_event(run.step, epoch, i + 1, run.steps_per_epoch, float(np.mean(losses[logged:i + 1])),
                            run.lr))
            logged = i + 1
    return losses, correct, seen


def _end_epoch(run: _Run, result: TrainResult, epoch: int, losses: list[float], correct: int, seen: int,
               epoch_s: float, t_train: float) -> tuple[dict, np.ndarray | None]:
    """After an epoch: the step schedule, validation and test, the weights into the torch network, the
    "epoch" event (also kept in ``result.history``); returns it with the last epoch's test predictions."""
    config = run.config
    if config.scheduler == "step" and epoch % config.step_size == 0:
        for c in run.optim.values():
            c["learning_rate"] *= config.gamma
    val_loss = val_acc = None
    if run.val is not None:
        val_loss, val_acc, _ = evaluate(run.net, *run.val, run.floats, config.eval_batch_size)
    test_loss, test_acc, preds = evaluate(run.net, *run.test, run.floats, config.eval_batch_size,
                                          predictions=epoch == config.epochs)
    copy_to_torch(run.net, result.model)
    event = epoch_event(result, epoch, run.step, (float(np.mean(losses)), correct / max(1, seen)),
                        (val_loss, val_acc), (test_loss, test_acc), run.lr, seen, epoch_s, t_train)
    return event, preds


def _blas_threads() -> int:
    """The threads NumPy's BLAS uses: its environment variables (the run store sets them), else all cores."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return os.cpu_count() or 1


def train_numpy(config: TrainConfig, emit: OnEvent, stop: Callable[[], bool],
                on_epoch: Callable[[TrainResult], None] | None = None) -> TrainResult:
    """``cnnedu.training.train.train`` for ``engine="numpy"``: the same arguments, events and result."""
    t_start = time.perf_counter()
    config.validate()
    spec = resolve_spec(config.arch)
    layout = numpy_layout(spec)
    warnings = numpy_notes(config, layout)
    d = training_data(config, spec, warnings)
    n, batch = len(d.train_y), min(config.batch_size, len(d.train_y))
    torch.manual_seed(config.seed)
    model = build_model(spec, device="cpu")  # PyTorch's initial weights; the trained ones at each epoch's end
    net = make_net(layout, model, config.weight_decay)
    optim = {name: {"learning_rate": config.learning_rate, "momentum": config.momentum} for name in net.params}
    steps = epoch_steps(n, batch)
    run = _Run(config, net, sgd_momentum if config.momentum > 0 else sgd, optim, _Floats(d.mean, d.std),
               d.train_x.numpy(), d.train_y.numpy(), batch, steps, config.log_every or max(1, steps // 50),
               explosion_limit(spec.num_classes), (d.ds.test_x.numpy(), d.ds.test_y.numpy()),
               (d.val_x.numpy(), d.val_y.numpy()) if d.val_y is not None else None)
    info = d.info(spec)
    result = TrainResult("done", "", config, spec, model, list(d.ds.classes), d.mean, d.std, "logits", "cpu",
                         count_params(model)[0], info, warnings=warnings)
    emit(start_event(result, _blas_threads(), steps, batch, t_start))
    shuffle_gen = torch.Generator().manual_seed(config.seed)  # the torch trainer's batches
    state = np.random.get_state()
    np.random.seed(config.seed % 2**32)  # the dropout masks come from NumPy's global state (the coursework's)
    t_train, train_seconds, preds = time.perf_counter(), 0.0, None
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging loss is reported, not warned about
            for epoch in range(1, config.epochs + 1):
                t_epoch = time.perf_counter()
                perm = torch.randperm(n, generator=shuffle_gen).numpy()
                losses, correct, seen = _epoch(run, perm, epoch, stop, emit)
                epoch_s = time.perf_counter() - t_epoch
                train_seconds += epoch_s
                event, preds = _end_epoch(run, result, epoch, losses, correct, seen, epoch_s, t_train)
                emit(event)
                if on_epoch is not None:
                    on_epoch(result)
    except Stopped:
        copy_to_torch(net, model)  # a cancelled run keeps its weights so far, as a torch run does
        result.status, result.message = "cancelled", cancelled_message(result, run.step)
    except Diverged as div:
        result.status = "failed"
        result.message = divergence_message(config, div.epoch, div.step, div.value, run.first)
    finally:
        np.random.set_state(state)
    return finish(result, run.step, t_start, train_seconds, torch.from_numpy(run.test[1]),
                  None if preds is None else torch.from_numpy(preds), emit)
