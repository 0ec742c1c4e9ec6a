"""The trainer: one function, ``train(config)``, that a student can read top to bottom.

What happens, in order:

1. ``TrainConfig`` says everything about the run (network, data, optimizer, schedule, augmentation, seed,
   device). It round-trips through JSON, so the run store keeps it and the CLI and the app share it.
2. The network is built from its spec and the dataset is loaded as uint8 tensors. If the images do not
   have the shape the network expects, they are converted (with a warning) or the run stops with a
   clear message: never a crash deep inside training.
3. The whole dataset is moved to the training device *once*, like KellerJordan/airbench does. Each step
   takes a shuffled slice of it, turns it into floats, flips, crops and normalises the whole batch at
   once. There is no DataLoader and no per-image Python in the loop, which is what makes it fast on a CPU.
4. Every few steps a ``"step"`` event reports the loss; after every epoch an ``"epoch"`` event reports
   train/validation/test loss and accuracy and the speed. A loss that turns into NaN stops the run with
   an explanation; ``should_stop()`` returning True stops it within one batch, keeping what it measured.
5. At the end: the test accuracy of every class and the confusion matrix.

``TrainConfig(engine="numpy")`` trains a fully connected network with seed 003's NumPy network instead
(cnnedu/training/numpy_engine.py): the same data, batches, initial weights and events; ``train`` picks the engine.

Events are plain dicts with a ``"kind"``; the run store (``cnnedu.runs.store``) writes them to SQLite, the CLI
prints them. Epochs and steps count from 1; accuracies are fractions (0.93, not 93).

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

import difflib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnedu.arch.nets import build_model, count_params, output_kind
from cnnedu.arch.spec import Spec, parse_spec
from cnnedu.budgets import MAX_IMAGES
from cnnedu.errors import CnnEduError, TrainError, shown
from cnnedu.userinput import read_json

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda", "mps")
#: "torch": PyTorch trains the network (any spec). "numpy": seed 003's NumPy FullyConnectedNet trains it
#: (fully connected networks only, SGD, on the CPU; see cnnedu/training/numpy_engine.py).
ENGINES = ("torch", "numpy")

#: The learning rate used when a config leaves ``lr`` empty: the usual starting point for each optimizer.
DEFAULT_LR = {"sgd": 0.01, "adam": 0.001, "adamw": 0.001, "rmsprop": 0.001}
#: How each optimizer is written in messages.
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}

Event = dict[str, Any]
OnEvent = Callable[[Event], None]


# ------------------------------------------------------------------------------------------------ config


@dataclass
class TrainConfig:
    """Everything that decides a training run. ``TrainConfig.from_dict(c.to_dict()) == c``.

    ``arch`` is a preset id (``"mnist-cnn"``), the path of a spec ``.json`` file, or a spec dict.
    ``lr=None`` means the usual learning rate of the optimizer (``DEFAULT_LR``). ``momentum`` is used by
    SGD and RMSprop (Adam has its own betas). ``flip`` is the probability of a horizontal flip (0 = off),
    ``crop`` the padding of a random crop in pixels (0 = off). ``normalize`` subtracts the per-channel
    mean and divides by the std measured on the training split. ``val_split`` holds out that fraction of
    the training images for validation. ``convert_input`` lets the trainer convert images whose shape does
    not match the network (grayscale ↔ RGB, resize). ``threads=None`` leaves PyTorch's thread count alone.
    ``engine`` is "torch" or "numpy" (``ENGINES``); a config written before it existed loads as "torch".
    """

    arch: str | dict[str, Any] = "mnist-cnn"
    dataset: str = "synthetic"
    data_dir: str | None = None
    n_train: int | None = None
    n_test: int | None = None
    convert_input: bool = True
    epochs: int = 2
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float | None = None
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    scheduler: str = "none"
    step_size: int = 1  # epochs between learning-rate drops ("step")
    gamma: float = 0.1  # factor of each drop ("step")
    flip: float = 0.0
    crop: int = 0
    normalize: bool = True
    val_split: float = 0.0
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    eval_batch_size: int = 1000
    log_every: int | None = None  # steps between "step" events; None: about 50 per epoch
    engine: str = "torch"

    @property
    def learning_rate(self) -> float:
        """``lr``, or the usual one for the optimizer when ``lr`` is empty."""
        return float(self.lr) if self.lr is not None else DEFAULT_LR.get(self.optimizer, 0.01)

    @property
    def arch_label(self) -> str:
        """A short name of the network for run ids and tables: the preset id, file stem or spec name."""
        if isinstance(self.arch, dict):
            return str(self.arch.get("name") or "custom")
        base = os.path.basename(str(self.arch))
        return base[:-5] if base.lower().endswith(".json") else base

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """A config from a dict; an unknown key is a ``TrainError`` that suggests the closest name."""
        names = [f.name for f in fields(cls)]
        for key in data:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f"Did you mean '{close[0]}'?" if close else f"Settings: {', '.join(names)}."
                raise TrainError(f"Unknown training setting '{key}'.", hint)
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        data = read_json(text, "The training configuration", TrainError)
        if not isinstance(data, dict):
            raise TrainError("The training configuration must be a JSON object.")
        return cls.from_dict(data)

    def validate(self) -> None:
        """Raise a ``TrainError`` naming the first setting that is out of range."""

        def bad(name: str, value: Any, need: str) -> TrainError:
            return TrainError(f"The setting {name}={shown(value)} is not allowed: {need}.")

        def whole(name: str, value: Any, low: int, high: int | None = None) -> None:
            if isinstance(value, bool) or not isinstance(value, int) or value < low or (
                    high is not None and value > high):
                need = f"a whole number from {low}" + (f" to {high}" if high is not None else " up")
                raise bad(name, value, need)

        def number(name: str, value: Any, low: float, high: float | None = None, low_open: bool = False,
                   high_open: bool = False) -> None:
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            ok = ok and (value > low if low_open else value >= low)
            ok = ok and (high is None or (value < high if high_open else value <= high))
            if not ok:
                lo = f"{'above' if low_open else 'at least'} {low}"
                hi = "" if high is None else f" and {'below' if high_open else 'at most'} {high}"
                raise bad(name, value, f"a number {lo}{hi}")

        if not isinstance(self.arch, str | dict) or not self.arch:
            raise bad("arch", self.arch, "a preset id, the path of a spec .json file, or a spec")
        if not isinstance(self.dataset, str) or not self.dataset:
            raise bad("dataset", self.dataset, "a dataset name such as 'synthetic' or 'fashion-mnist'")
        whole("epochs", self.epochs, 1, 1000)
        whole("batch_size", self.batch_size, 1, 65536)
        whole("eval_batch_size", self.eval_batch_size, 1, 65536)
        for name in ("n_train", "n_test"):
            if getattr(self, name) is not None:
                whole(name, getattr(self, name), 1, MAX_IMAGES)
        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", self.optimizer, f"one of {', '.join(OPTIMIZERS)}")
        if self.lr is not None:
            number("lr", self.lr, 0.0, 10.0, low_open=True)
        number("momentum", self.momentum, 0.0, 1.0, high_open=True)
        if self.nesterov and (self.optimizer != "sgd" or self.momentum <= 0):
            raise TrainError("Nesterov momentum needs the SGD optimizer with a momentum above 0.",
                             "Set momentum to 0.9, or turn nesterov off.")
        number("weight_decay", self.weight_decay, 0.0, 10.0)
        if self.scheduler not in SCHEDULERS:
            raise bad("scheduler", self.scheduler, f"one of {', '.join(SCHEDULERS)}")
        whole("step_size", self.step_size, 1, 1000)
        number("gamma", self.gamma, 0.0, 1.0, low_open=True)
        number("flip", self.flip, 0.0, 1.0)
        whole("crop", self.crop, 0, 64)
        number("val_split", self.val_split, 0.0, 0.9)
        whole("seed", self.seed, 0, 2**63 - 1)
        if self.device not in DEVICES:
            raise bad("device", self.device, f"one of {', '.join(DEVICES)}")
        if self.threads is not None:
            whole("threads", self.threads, 1, 1024)
        if self.log_every is not None:
            whole("log_every", self.log_every, 1, 10**6)
        if self.engine not in ENGINES:
            raise bad("engine", self.engine, f"one of {', '.join(ENGINES)}")
        if self.engine == "numpy":
            from cnnedu.training.numpy_engine import check_numpy_settings

            check_numpy_settings(self)


# ------------------------------------------------------------------------------------------------ result


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


# ----------------------------------------------------------------------------------------------- helpers


def pick_device(name: str) -> torch.device:
    """"auto" → the best there is (CUDA, then Apple's MPS, then CPU); a named one must exist."""
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise TrainError("There is no CUDA GPU that PyTorch can use on this computer "
                         "(torch.cuda.is_available() is False).",
                         'Choose device "cpu", or "auto" to use the best device there is.')
    if name == "mps" and not mps:
        raise TrainError("Apple's MPS GPU is not available on this computer.",
                         'Choose device "cpu", or "auto" to use the best device there is.')
    return torch.device(name)


def check_data(config: TrainConfig) -> Path | None:
    """Refuse, before a run is recorded, data settings that could only fail later in the worker: an unknown
    dataset, an image folder that is missing or outside the allowed folders, a device that is not there.
    Returns the data folder as an absolute path inside the allowed folders (None when none is given)."""
    from cnnedu.data import DATASETS
    from cnnedu.paths import allowed_folder

    name = config.dataset.strip().lower()
    if name not in DATASETS:
        close = difflib.get_close_matches(name, list(DATASETS), n=1)
        raise TrainError(f"There is no dataset '{config.dataset[:40]}'.",
                         f"Did you mean '{close[0]}'?" if close else f"Choose one of: {', '.join(DATASETS)}.")
    if name == "folder" and not (config.data_dir or "").strip():
        raise TrainError("The image-folder dataset needs a folder (data_dir).",
                         "Give the path of a folder with one sub-folder of images per class.")
    pick_device(config.device)
    return allowed_folder(config.data_dir) if config.data_dir and str(config.data_dir).strip() else None


def resolve_spec(arch: str | dict[str, Any] | Spec) -> Spec:
    """The network's spec from a preset id, a spec file path or a spec dict."""
    if isinstance(arch, Spec | dict):
        return parse_spec(arch)
    from cnnedu.arch.zoo import resolve_arch

    return resolve_arch(arch)


def check_network(spec: Spec, config: TrainConfig, batch_size: int | None = None) -> list[str]:
    """Refuse a network that training cannot use, before anything is trained (``create_run`` calls this, so
    the Train page and the CLI say so at once): one with no weights to learn, or one whose estimated memory
    (``cnnedu.arch.analysis.training_memory``) is above ``budgets.RUN_MEMORY_BYTES``. Returns the warnings
    (a run above ``RUN_MEMORY_WARN`` of the budget), shown with the run like the Softmax warning."""
    from cnnedu import budgets
    from cnnedu.arch.analysis import analyze, human_bytes, training_memory

    a = analyze(spec)
    if a.error is not None:
        raise a.error  # the layers do not fit together: say so now, with the layer, not in the worker
    if config.engine == "numpy":
        from cnnedu.training.numpy_engine import numpy_layout

        numpy_layout(spec)  # a layer the NumPy network cannot express is refused now, by name
    if a.totals.trainable_params == 0:
        kinds = ", ".join(dict.fromkeys(str(layer.get("type")) for layer in spec.layers)) or "none"
        raise TrainError(f"The network has no weights to learn: its layers ({kinds}) have no parameters, so "
                         "training could not change anything (PyTorch refuses: \"optimizer got an empty "
                         "parameter list\").",
                         "Add a layer with weights: a Conv2d, or after the Flatten a Linear layer with "
                         f"out_features = {spec.num_classes} (the number of classes).")
    batch = batch_size or config.batch_size
    est = training_memory(spec, batch, config.optimizer, config.momentum, analysis=a)
    budget = budgets.RUN_MEMORY_BYTES
    leaves = a.leaf_rows()
    big = max(leaves, key=lambda r: r.activation_bytes, default=None)
    where = (f"; the largest output is {big.name}'s, {human_bytes(big.activation_bytes)} per image"
             if big is not None else "")
    if est.total > budget:
        fixed = est.params + est.grads + est.optimizer
        fits = (budget - fixed) // max(1, est.per_image)
        if fits >= 1:
            fix = (f"Use a smaller batch size (at most {fits} fits; now {batch}), or fewer channels in the "
                   f"largest layers{where}.")
        else:
            fix = (f"Even one image does not fit: use fewer channels or features (the weights, their "
                   f"gradients and the optimizer state alone need {human_bytes(fixed)}){where}.")
        raise TrainError(f"Training this network at batch size {batch} would need about {est.describe()}: "
                         f"more than the {human_bytes(budget)} one run may use on this computer "
                         "(CNNEDU_RUN_MEMORY_MB sets it).", fix)
    if est.total > budgets.RUN_MEMORY_WARN * budget:
        return [f"This run needs about {human_bytes(est.total)} of memory, {est.total / budget:.0%} of the "
                f"{human_bytes(budget)} one run may use{where}. A smaller batch size or fewer channels makes "
                "it lighter (and faster)."]
    return []


SOFTMAX_WARNING = (
    "The network ends in Softmax, so it outputs probabilities. PyTorch's CrossEntropyLoss expects raw "
    "scores (logits) and applies softmax itself: given probabilities it applies softmax twice, which "
    "squashes the gradients so the network learns slowly or not at all. cnnedu trains on the log of "
    "the probabilities instead (the NLL loss), which works. In your own code, drop the final Softmax "
    "and use CrossEntropyLoss, or end with LogSoftmax and use NLLLoss.")


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


def explosion_limit(num_classes: int) -> float:
    """A mean batch loss above this means the weights blew up. An untrained net starts near ln(classes)
    (2.3 for 10 classes); only enormous outputs (logits in the hundreds) give a cross-entropy of 50 times
    that, and once there ReLUs die and the net is stuck at chance (000 Task 1.5: lr 0.1 → 10%)."""
    return max(50.0 * math.log(max(2, num_classes)), 25.0)


def divergence_message(config: TrainConfig, epoch: int, step: int, value: float, first: float | None) -> str:
    """What to tell a student whose loss became NaN, infinite or exploded, and what to try."""
    if math.isnan(value):
        what = "became NaN (not a number)"
    elif math.isinf(value):
        what = "became infinite"
    else:
        start = f" (it started near {first:.3g})" if first is not None and math.isfinite(first) else ""
        what = f"exploded to {value:.3g}{start}"
    lr, opt = config.learning_rate, config.optimizer
    name = OPTIMIZER_NAMES[opt]
    head = f"The loss {what} at epoch {epoch}, step {step}: "
    if lr > (0.05 if opt == "sgd" else 0.003):
        try_ = ("Try 0.01 or 0.001, or Adam with 0.001." if opt == "sgd"
                else "Try 0.001 or 0.0001, or SGD with 0.01 and momentum 0.9.")
        return (f"{head}the learning rate {lr:g} is too large for {name} — the weights overshoot and "
                f"blow up. {try_}")
    tips = [f"a smaller learning rate (e.g. {lr / 10:g})"]
    if not config.normalize:
        tips.append("normalizing the inputs")
    tips.append("BatchNorm after the convolutions")
    return (f"{head}the weights grew out of control even with learning rate {lr:g}. Try "
            f"{', '.join(tips[:-1])} or {tips[-1]}.")


def chance_warning(config: TrainConfig, test_acc: float, num_classes: int) -> str | None:
    """A hint when a finished run is no better than guessing (000 Task 1.5: lr 0.1 → 10%)."""
    chance = 1.0 / max(1, num_classes)
    if num_classes < 2 or test_acc > chance * 1.5:
        return None
    tips = f"try a smaller learning rate (e.g. {config.learning_rate / 10:g}), "
    tips += "normalize the inputs, " if not config.normalize else ""
    return (f"The test accuracy {test_acc:.1%} is about what guessing gives ({chance:.0%} for {num_classes} "
            f"classes): the network did not learn. With {OPTIMIZER_NAMES[config.optimizer]} and learning rate "
            f"{config.learning_rate:g}, {tips}or train for more epochs.")


class _Diverged(Exception):
    def __init__(self, epoch: int, step: int, value: float):
        super().__init__(f"loss {value} at epoch {epoch}, step {step}")
        self.epoch, self.step, self.value = epoch, step, value
        self.first: float | None = None


class _Stopped(Exception):
    pass


# --------------------------------------------------------------------------------------------- data prep


def load_data(config: TrainConfig, spec: Spec, warnings: list[str] | None = None):
    """The run's dataset as uint8 tensors, converted to the network's input shape when allowed.

    Used by the trainer and, to show a finished run's test images again, by ``inspect_model``.
    """
    warnings = [] if warnings is None else warnings
    from cnnedu import data

    shape = tuple(spec.input_shape)
    kwargs: dict[str, Any] = dict(num_classes=spec.num_classes, data_dir=config.data_dir, seed=config.seed,
                                  n_train=config.n_train, n_test=config.n_test)
    if config.dataset == "synthetic" or (config.dataset == "folder" and config.convert_input):
        kwargs["input_shape"] = shape  # drawn, or read from the image files, at the network's size
    ds = data.load_dataset(config.dataset, **kwargs)
    warnings.extend(ds.warnings)
    problem = data.shape_mismatch(ds, shape, model=config.arch_label)
    if problem:
        if not config.convert_input:
            raise TrainError(f"{problem}.", "Allow the conversion (convert_input; on in the CLI unless "
                                            "--no-convert), or choose a network whose input_shape matches "
                                            "the images.")
        ds = data.fit_to_shape(ds, shape)
        warnings.append(f"{problem}, and did.")
    if ds.num_classes != spec.num_classes:
        raise TrainError(f"The network has {spec.num_classes} outputs but {ds.title} has {ds.num_classes} "
                         "classes.", f"Set num_classes to {ds.num_classes}.")
    return ds


class _Batches:
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
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, prepare: _Batches, loss_fn, batch_size: int,
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


def confusion_matrix(y: torch.Tensor, pred: torch.Tensor, k: int) -> torch.Tensor:
    """[k, k] counts: row = true class, column = predicted class."""
    return torch.bincount(y.cpu() * k + pred.cpu(), minlength=k * k).view(k, k)


# ------------------------------------------------------------------------------------------------- train


def train(config: TrainConfig | dict[str, Any], on_event: OnEvent | None = None,
          should_stop: Callable[[], bool] | None = None,
          on_epoch: Callable[[TrainResult], None] | None = None) -> TrainResult:
    """Train a network as ``config`` says and return what it learned and measured.

    ``on_event(event)`` receives the events (dicts with "kind") as they happen; ``should_stop()`` is asked
    before every batch and stops the run when it returns True (status "cancelled", metrics kept).
    ``on_epoch(result)`` is called after every epoch's event, with the weights of that epoch in
    ``result.model`` (the run store saves a checkpoint there); an error it raises ends the run.
    A diverging loss ends the run with status "failed" and a message saying what to try. A setting,
    network or dataset that cannot be used raises a ``CnnEduError`` before training starts (after a
    "failed" event).
    """
    emit = on_event or (lambda event: None)
    stop = should_stop or (lambda: False)
    try:
        if isinstance(config, dict):
            config = TrainConfig.from_dict(config)
        if config.engine == "numpy":  # the one place the engines part ways
            from cnnedu.training.numpy_engine import train_numpy

            return train_numpy(config, emit, stop, on_epoch)
        return _train(config, emit, stop, on_epoch)
    except CnnEduError as err:
        emit({"kind": "failed", "message": str(err)})
        raise


def _train(config: TrainConfig, emit: OnEvent, stop: Callable[[], bool],
           on_epoch: Callable[[TrainResult], None] | None = None) -> TrainResult:
    t_start = time.perf_counter()
    config.validate()
    if config.threads:
        torch.set_num_threads(config.threads)
    device = pick_device(config.device)
    spec = resolve_spec(config.arch)
    kind = output_kind(spec)
    warnings: list[str] = []
    if kind == "probs":
        warnings.append(SOFTMAX_WARNING)

    # ---- data: uint8 on the device, a validation split, the normalisation statistics
    d = training_data(config, spec, warnings)
    ds, train_x, train_y, val_x, val_y, mean, std = d.ds, d.train_x, d.train_y, d.val_x, d.val_y, d.mean, d.std
    n = len(train_y)
    eval_batch = _eval_batch(spec, config, min(config.batch_size, n))
    train_x, train_y = train_x.to(device), train_y.to(device)
    test_x, test_y = ds.test_x.to(device), ds.test_y.to(device)
    if val_x is not None:
        val_x, val_y = val_x.to(device), val_y.to(device)
    prepare = _Batches(config, mean, std, device)

    # ---- the network, the loss, the optimizer, the schedule; every random thing seeded
    torch.manual_seed(config.seed)
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
    loss_fn = make_loss(kind)
    optimizer = make_optimizer(config, model, fused=device.type == "cpu" and config.optimizer != "rmsprop"
                               and os.environ.get("CNNEDU_FUSED", "1") != "0")
    batch = min(config.batch_size, n)
    steps_per_epoch = epoch_steps(n, batch)
    scheduler, per_batch = make_scheduler(config, optimizer, steps_per_epoch)
    shuffle_gen = torch.Generator().manual_seed(config.seed)
    aug_gen = torch.Generator().manual_seed(config.seed + 1)  # on the CPU: the same flips on every device
    log_every = config.log_every or max(1, steps_per_epoch // 50)
    check_every = 1 if device.type == "cpu" else log_every  # .item() is free on CPU, a sync on a GPU
    limit = explosion_limit(spec.num_classes)
    first_loss = None

    params = count_params(model)[0]
    info = d.info(spec)
    result = TrainResult("done", "", config, spec, model, list(ds.classes), mean, std, kind, str(device),
                         params, info, warnings=warnings)
    emit({"kind": "start", "config": config.to_dict(), "spec": spec.to_dict(), "dataset": info,
          "params": params, "device": str(device), "threads": torch.get_num_threads(), "output": kind,
          "steps_per_epoch": steps_per_epoch, "epochs": config.epochs, "batch_size": batch,
          "mean": mean, "std": std, "warnings": list(warnings),
          "setup_s": round(time.perf_counter() - t_start, 3)})

    # ---- the loop
    t_train = time.perf_counter()
    step = 0
    train_seconds = 0.0
    preds = None
    try:
        for epoch in range(1, config.epochs + 1):
            model.train()
            t_epoch = time.perf_counter()
            losses = torch.zeros(steps_per_epoch, device=device)  # one slot per step: no sync per step
            correct = torch.zeros((), dtype=torch.long, device=device)
            seen = 0
            checked = logged = 0  # steps of this epoch already checked for NaN / reported
            perm = torch.randperm(n, generator=shuffle_gen).to(device)
            for i in range(steps_per_epoch):
                if stop():
                    raise _Stopped
                idx = perm[i * batch:(i + 1) * batch]
                xb, yb = prepare(train_x[idx], train=True, generator=aug_gen), train_y[idx]
                out = model(xb)
                loss = loss_fn(out, yb)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if per_batch:
                    scheduler.step()
                step += 1
                seen += len(yb)
                losses[i] = loss.detach()
                if first_loss is None:
                    first_loss = losses[:1]
                correct += (out.detach().argmax(1) == yb).sum()
                last = i + 1 == steps_per_epoch
                if (i + 1 - checked) >= check_every or last:
                    _check_loss(losses, checked, i + 1, epoch, limit)
                    checked = i + 1
                if (i + 1 - logged) >= log_every or last:
                    emit({"kind": "step", "step": step, "epoch": epoch, "batch": i + 1,
                          "batches": steps_per_epoch, "loss": losses[logged:i + 1].mean().item(),
                          "lr": optimizer.param_groups[0]["lr"]})
                    logged = i + 1
            if scheduler is not None and not per_batch:
                scheduler.step()
            epoch_train_s = time.perf_counter() - t_epoch
            train_seconds += epoch_train_s
            train_loss, train_acc = losses.mean().item(), correct.item() / max(1, seen)
            val_loss = val_acc = None
            if val_y is not None:
                val_loss, val_acc, _ = evaluate(model, val_x, val_y, prepare, loss_fn, eval_batch)
            last_epoch = epoch == config.epochs
            test_loss, test_acc, preds = evaluate(model, test_x, test_y, prepare, loss_fn, eval_batch,
                                                  predictions=last_epoch)
            elapsed = time.perf_counter() - t_train
            event = {"kind": "epoch", "epoch": epoch, "step": step, "train_loss": train_loss,
                     "train_acc": train_acc, "val_loss": val_loss, "val_acc": val_acc, "test_loss": test_loss,
                     "test_acc": test_acc, "lr": optimizer.param_groups[0]["lr"],
                     "images_per_s": seen / max(epoch_train_s, 1e-9), "epoch_s": epoch_train_s,
                     "elapsed_s": elapsed, "eta_s": elapsed / epoch * (config.epochs - epoch)}
            result.history.append(event)
            result.epochs_done, result.test_acc, result.test_loss = epoch, test_acc, test_loss
            emit(event)
            if on_epoch is not None:
                on_epoch(result)
    except _Stopped:
        result.status, result.message = "cancelled", cancelled_message(result, step)
    except _Diverged as div:
        result.status = "failed"
        first = float(first_loss[0]) if first_loss is not None else None
        result.message = divergence_message(config, div.epoch, div.step, div.value, first)
    except RuntimeError as err:
        if "out of memory" in str(err).lower():
            raise TrainError(f"The batch does not fit in the memory of {device}.",
                             f"Try a smaller batch size than {batch}.") from None
        raise
    return finish(result, step, t_start, train_seconds, test_y, preds, emit)


def epoch_steps(n: int, batch: int) -> int:
    """Steps per epoch over ``n`` images in batches of ``batch``: a last batch of 1 is left out (it would
    break BatchNorm), so 65 images in batches of 64 make 1 step and 66 make 2."""
    return n // batch + (1 if n % batch > 1 else 0)


def cancelled_message(result: TrainResult, step: int) -> str:
    return (f"Stopped by the user at epoch {len(result.history) + 1}, step {step}; the metrics measured so "
            "far are kept.")


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


@dataclass
class TrainingData:
    """A run's images as uint8 tensors on the CPU (the training split less the validation split), the
    dataset they come from, and the per-channel normalisation statistics (0..1 units)."""

    ds: Any  # cnnedu.data.Dataset: name, title, classes, source, test_x, test_y
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor | None
    val_y: torch.Tensor | None
    mean: list[float]
    std: list[float]

    def info(self, spec: Spec) -> dict[str, Any]:
        """The "dataset" of the start event and of the results."""
        ds = self.ds
        return {"name": ds.name, "title": ds.title, "classes": list(ds.classes), "source": ds.source,
                "n_train": len(self.train_y), "n_val": 0 if self.val_y is None else len(self.val_y),
                "n_test": len(ds.test_y), "input_shape": list(spec.input_shape)}


def training_data(config: TrainConfig, spec: Spec, warnings: list[str]) -> TrainingData:
    """Load the run's data, hold out the validation split, refuse too few images or a network too big for
    the batch (``check_network``; its warnings go to ``warnings``) and measure the normalisation."""
    from cnnedu import data

    ds = load_data(config, spec, warnings)
    train_x, train_y, val_x, val_y = ds.train_x, ds.train_y, None, None
    if config.val_split > 0:
        train_x, train_y, val_x, val_y = data.split_validation(train_x, train_y, config.val_split, config.seed)
        if len(val_y) == 0:  # every class too small to give one: say so, never "val acc 0.00%"
            warnings.append(f"val_split {config.val_split:g} leaves no validation images (every class has "
                            "fewer than 2 training images): validation is skipped.")
            val_x = val_y = None
    n = len(train_y)
    if n < 2:
        raise TrainError(f"There are only {n} training images: too few to train on.",
                         "Use more training images (n_train) or a smaller validation split.")
    warnings.extend(check_network(spec, config, min(config.batch_size, n)))  # no weights, too big: refused
    channels = spec.input_shape[0]
    if config.normalize:
        mean, std = data.channel_stats(train_x)
        mean, std = [float(m) for m in mean], [max(float(s), 1e-3) for s in std]
    else:
        mean, std = [0.0] * channels, [1.0] * channels
    return TrainingData(ds, train_x, train_y, val_x, val_y, mean, std)


def _eval_batch(spec: Spec, config: TrainConfig, batch: int) -> int:
    """The evaluation batch: ``eval_batch_size``, made smaller when it would need more memory than a
    training batch (1,000 images of a wide network can need far more than 64 with gradients)."""
    from cnnedu.arch.analysis import analyze, eval_batch_limit, training_memory

    a = analyze(spec)
    if a.error is not None:
        return config.eval_batch_size
    est = training_memory(spec, batch, config.optimizer, config.momentum, analysis=a)
    return max(1, min(config.eval_batch_size, max(batch, eval_batch_limit(a, est))))


def _check_loss(losses: torch.Tensor, start: int, end: int, epoch: int, limit: float) -> None:
    """Raise ``_Diverged`` at the first step in ``losses[start:end]`` whose loss is NaN, infinite or above
    ``limit``."""
    chunk = losses[start:end]
    bad = ~torch.isfinite(chunk) | (chunk > limit)
    if bool(bad.any()):
        j = int(bad.nonzero()[0, 0])
        raise _Diverged(epoch, start + j + 1, float(chunk[j]))
