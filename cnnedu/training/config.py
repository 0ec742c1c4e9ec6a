"""The training configuration: ``TrainConfig``, and the one description of each of its settings.

Every field of ``TrainConfig`` carries a ``Setting`` in its metadata: its kind, allowed range or choices,
its name in the Train page's messages, its label, help and unit there, and its ``python -m cnnedu train``
option. Everything else reads them: ``TrainConfig.validate`` checks the ranges, cnnedu/cli/train.py makes
its options from them, cnnedu/training/settings.py its number boxes, cnnedu/ui/train_form.py the Train
page's defaults and cnnedu/ui/runs_view.py the names and defaults of its tables. ``SETTINGS`` holds them
by name. No torch here: building the CLI's parser imports this module.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from cnnedu.budgets import MAX_IMAGES
from cnnedu.errors import TrainError, shown
from cnnedu.userinput import read_json

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda", "mps")
#: "torch": PyTorch trains the network (any spec). "numpy": seed 003's NumPy FullyConnectedNet trains it
#: (fully connected networks only, SGD, on the CPU; see cnnedu/training/numpy_engine.py).
ENGINES = ("torch", "numpy")
#: What the network's outputs are compared with (cnnedu/training/optim.py ``make_loss`` explains each).
LOSSES = ("cross_entropy", "nll", "mse", "l1", "l1_index")
#: How each loss is written on the pages.
LOSS_NAMES = {"cross_entropy": "cross-entropy", "nll": "log-softmax + NLL", "mse": "MSE on one-hot targets",
              "l1": "L1 on one-hot targets", "l1_index": "L1 on class indices (seed 001)"}
#: Fixed (mean, std) pairs for ``normalize`` (0..1 units, the same for every channel), besides "measured".
FIXED_NORM_STATS = {
    "mnist": (0.1307, 0.3081),  # MNIST's own; seed 002 uses them on Fashion-MNIST
    "half": (0.5, 0.5),  # seed 000 Task 1.4: Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    "identity": (0.0, 1.0),  # seed 001 Exercise 1: Normalize([0, 0, 0], [1, 1, 1]) changes nothing
}
NORM_STATS = ("measured", *FIXED_NORM_STATS)

#: The learning rate used when a config leaves ``lr`` empty: the usual starting point for each optimizer.
DEFAULT_LR = {"sgd": 0.01, "adam": 0.001, "adamw": 0.001, "rmsprop": 0.001}
#: How each optimizer is written in messages.
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}
#: How each schedule is written on the pages.
SCHEDULE_NAMES = {"none": "constant", "step": "step", "cosine": "cosine", "onecycle": "one-cycle"}
#: How each engine is written on the Train page.
ENGINE_NAMES = {"torch": "PyTorch", "numpy": "NumPy, from scratch (seed 003)"}

_SAME = object()  # Setting.page: the Train page starts from the default


@dataclass(frozen=True)
class Setting:
    """One setting of ``TrainConfig``, described once.

    ``kind``: "whole", "number", "choice", "flag", "text" (a non-empty string), "arch" or "path" (not
    checked). ``low``/``high`` (``*_open``: the bound itself is not allowed) or ``choices`` are what
    ``validate`` allows; ``optional``: None is allowed too (the usual value). ``need``: what a "text" or
    "arch" value must be. The Train page: ``label``, ``help``, ``unit``; a number box has a ``title`` (its
    name in messages) and an ``example``, and ``page_low``/``page_high`` when the page allows less than
    ``validate``; ``page`` is the page's starting value when it is not ``default``. The CLI: ``cli`` is the
    help of the option (``{default}`` stands for the default; None: no option), ``option`` its name
    (default ``--name-with-dashes``), ``flag`` how a yes/no setting is written ("on": ``--name``, "both":
    ``--name``/``--no-name``, "off": an ``option`` that turns it off)."""

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    optional: bool = False
    choices: tuple[str, ...] = ()
    names: dict[str, str] | None = None  # how each choice is written
    need: str = ""
    title: str = ""
    example: str = ""
    label: str = ""
    help: str | None = None
    unit: str = ""
    page_low: float | None = None
    page_high: float | None = None
    zero_means: str | None = None  # what 0 means in a number box, when 0 is allowed and special
    page: Any = _SAME
    cli: str | None = None
    cli_required: bool = False
    option: str = ""
    flag: str = "on"
    name: str = ""  # filled in from the field
    default: Any = None

    @property
    def page_value(self) -> Any:
        """The Train page's starting value (a quick class demo)."""
        return self.default if self.page is _SAME else self.page

    @property
    def widget_label(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label

    @property
    def cli_option(self) -> str:
        return self.option or "--" + self.name.replace("_", "-")

    @property
    def cli_help(self) -> str:
        return (self.cli or "").format(default=self.default)

    def need_text(self) -> str:
        """What an allowed value is, as the end of "is not allowed: ..."."""
        if self.kind == "whole":
            return f"a whole number from {self.low}" + (f" to {self.high}" if self.high is not None else " up")
        if self.kind == "number":
            lo = f"{'above' if self.low_open else 'at least'} {self.low}"
            hi = "" if self.high is None else f" and {'below' if self.high_open else 'at most'} {self.high}"
            return f"a number {lo}{hi}"
        if self.kind == "choice":
            return f"one of {', '.join(self.choices)}"
        return self.need

    def allows(self, value: Any) -> bool:
        if value is None and self.optional:
            return True
        if self.kind == "whole":
            return (isinstance(value, int) and not isinstance(value, bool) and value >= self.low
                    and (self.high is None or value <= self.high))
        if self.kind == "number":
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            ok = ok and (value > self.low if self.low_open else value >= self.low)
            return ok and (self.high is None or (value < self.high if self.high_open else value <= self.high))
        if self.kind == "choice":
            return value in self.choices
        if self.kind == "text":
            return isinstance(value, str) and bool(value)
        if self.kind == "arch":
            return isinstance(value, str | dict) and bool(value)
        return True  # "flag", "path": not checked

    def check(self, value: Any) -> None:
        """Raise a ``TrainError`` when ``value`` is not allowed."""
        if not self.allows(value):
            raise TrainError(f"The setting {self.name}={shown(value)} is not allowed: {self.need_text()}.")


def setting(default: Any, kind: str, **meta: Any) -> Any:
    """A ``TrainConfig`` field with its ``Setting``."""
    return field(default=default, metadata={"setting": Setting(kind, default=default, **meta)})


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
    ``loss`` picks what the outputs are compared with (``LOSSES``); ``subset`` keeps part of the training
    images by a rule (cnnedu/training/subset.py), after ``n_train``; ``norm_stats`` says where normalize's
    mean and std come from ("measured" on the training images, or a fixed pair, ``FIXED_NORM_STATS``: the
    measured ones are reported either way). ``experiment`` tags the runs of one experiment
    (cnnedu/experiments/), e.g. "000-learning-rate@classroom".
    Each field's ``Setting`` (``SETTINGS``) says what it allows and how the pages and the CLI show it.
    """

    arch: str | dict[str, Any] = setting(
        "mnist-cnn", "arch", need="a preset id, the path of a spec .json file, or a spec", label="Network",
        cli="a preset id (see `presets`) or the path of a spec .json file", cli_required=True)
    dataset: str = setting(
        "synthetic", "text", need="a dataset name such as 'synthetic' or 'fashion-mnist'", label="Dataset",
        cli="synthetic, gaze-synthetic (eye images for the gaze-* presets), fashion-mnist, mnist, cifar10 or "
            "folder (with --data-dir: one sub-folder per class, or MPIIFaceGaze's Image/ + Label/)",
        cli_required=True)
    data_dir: str | None = setting(
        None, "path", page="", label="Image folder", cli="the image folder for --dataset folder",
        help="A folder with one sub-folder of images per class (optionally inside train/ and test/).")
    n_train: int | None = setting(
        None, "whole", low=1, high=MAX_IMAGES, optional=True, page=2000, page_low=0,
        zero_means="all of them", title="The number of training images", example="2000",
        label="Training images", help="A random subset keeps a class demo quick. 0 = all of them.",
        cli="use only this many training images (quick runs)")
    n_test: int | None = setting(
        None, "whole", low=1, high=MAX_IMAGES, optional=True, page=500, page_low=0, zero_means="all of them",
        title="The number of test images", example="500", label="Test images", help="0 = all of them.",
        cli="use only this many test images")
    convert_input: bool = setting(
        True, "flag", flag="off", option="--no-convert",
        cli="refuse images whose shape differs from the network's input instead of converting them")
    epochs: int = setting(
        2, "whole", low=1, high=1000, page=5, title="The number of epochs", example="5", label="Epochs",
        cli="passes over the training set (default {default})")
    batch_size: int = setting(
        64, "whole", low=1, high=65536, title="The batch size", example="64", label="Batch size",
        cli="images per step (default {default})")
    optimizer: str = setting(
        "sgd", "choice", choices=OPTIMIZERS, names=OPTIMIZER_NAMES, page="adam", label="Optimizer",
        cli="default {default}")
    lr: float | None = setting(
        None, "number", low=0.0, high=10.0, low_open=True, optional=True, page=0.001,
        title="The learning rate", example="0.001", label="Learning rate",
        help="How far each step moves the weights: a number above 0, e.g. 0.001 or 1e-3 (a dot for "
             "decimals). 000 Task 1.5 compares 0.1, 0.01, 0.001 and 0.0001; 001 Exercise 3 compares SGD "
             "and Adam at 0.001 and 0.01.",
        cli="learning rate (default: 0.01 for sgd, 0.001 for the others)")
    momentum: float = setting(
        0.9, "number", low=0.0, high=1.0, high_open=True, title="Momentum", example="0.9", label="Momentum",
        help="Keep this share (0 to below 1) of the previous step's direction (003 Task 1.9). 0 = plain SGD.",
        cli="momentum of sgd and rmsprop (default {default})")
    nesterov: bool = setting(
        False, "flag", label="Nesterov", help="Look ahead along the momentum before taking the gradient.",
        cli="Nesterov momentum (sgd)")
    weight_decay: float = setting(
        0.0, "number", low=0.0, high=10.0, title="Weight decay", example="0.0001", label="Weight decay",
        help="L2 penalty that pulls the weights towards 0 (AdamW applies it separately). 0 = off.",
        cli="L2 penalty (default {default:g})")
    scheduler: str = setting(
        "none", "choice", choices=SCHEDULERS, names=SCHEDULE_NAMES, label="Learning-rate schedule",
        cli="learning-rate schedule (default {default})")
    step_size: int = setting(  # epochs between learning-rate drops ("step")
        1, "whole", low=1, high=1000, title="The step size", example="2", label="Step size", unit="epochs",
        help="The learning rate drops every this many epochs (003 Task 2.2: 2).",
        cli="epochs between drops with --scheduler step (default {default})")
    gamma: float = setting(  # factor of each drop ("step")
        0.1, "number", low=0.0, high=1.0, low_open=True, title="Gamma", example="0.1", label="Gamma",
        help="Each drop multiplies the learning rate by gamma (003 Task 2.2: 0.9).",
        cli="factor of each drop with --scheduler step (default {default})")
    flip: float = setting(
        0.0, "number", low=0.0, high=1.0, label="Flip probability",
        help="Each training image is mirrored left ↔ right with this probability.")
    crop: int = setting(
        0, "whole", low=0, high=64, page_high=16, title="The crop padding", example="4", label="Crop padding",
        unit="px", help="Pad each image by this many pixels (0 to 16) and cut it back at a random place: the "
                        "image shifts by up to this much. 0 = off; 4 is usual for CIFAR-10.")
    normalize: bool = setting(
        True, "flag", flag="both", label="Normalize the inputs (per-channel mean and std)",
        help="Subtract each channel's mean and divide by its standard deviation, measured on the training "
             "images (000 Task 1.3, 001 Exercise 1).",
        cli="subtract the per-channel mean and divide by the std of the training images (default: on)")
    val_split: float = setting(
        0.0, "number", low=0.0, high=0.9, page=0.1, title="The validation share", example="0.1",
        label="Validation share",
        help="The share of the training images (0 to 0.9) held out to measure accuracy on data the network "
             "does not learn from (the validation curve).",
        cli="fraction of the training images held out for validation")
    loss: str = setting(
        "cross_entropy", "choice", choices=LOSSES, names=LOSS_NAMES, label="Loss",
        help="cross_entropy: the classification loss (NLL of the log-probabilities when the network already "
             "ends in LogSoftmax or Softmax). nll: log_softmax, then NLLLoss (the same numbers on logits). "
             "mse, l1: the outputs against one-hot targets. l1_index: seed 001's nn.L1Loss()(outputs, labels) "
             "on class indices, which only runs because its batch size 10 equals the 10 classes: every "
             "output j of every image is pulled towards the label of image j of the batch.",
        cli="cross_entropy (default), nll, mse or l1 (one-hot targets), l1_index (seed 001's L1Loss on class "
            "indices)")
    subset: str | None = setting(
        None, "text", optional=True, label="Training subset",
        need="None, 'even', 'odd', 'fraction:F' (0 < F <= 1) or 'per_class:N' (N >= 1)",
        help="Keep part of the training images: even / odd = every other image by index (seed 001), "
             "fraction:0.5 = a random half, per_class:100 = 100 images of each class. After n_train.",
        cli="keep part of the training images: even, odd, fraction:F or per_class:N")
    norm_stats: str = setting(
        "measured", "choice", choices=NORM_STATS, label="Normalization statistics",
        help="measured: each channel's mean and std measured on the training images. mnist: MNIST's "
             "0.1307 / 0.3081 (seed 002 uses them on Fashion-MNIST); half: 0.5 / 0.5 (seed 000); identity: "
             "0 / 1 (seed 001's Normalize([0,0,0], [1,1,1]), which changes nothing). The measured values are "
             "reported either way.",
        cli="where normalize's mean/std come from: measured (default), mnist (0.1307/0.3081), half (0.5/0.5) "
            "or identity (0/1)")
    experiment: str | None = setting(None, "text", optional=True)  # e.g. "000-learning-rate@classroom"
    seed: int = setting(
        0, "whole", low=0, high=2**63 - 1, page_high=2**31 - 1, title="The seed", example="0", label="Seed",
        help="The same seed gives the same run on a CPU: same data, weights and batches.",
        cli="the same seed gives the same run on CPU (default {default})")
    device: str = setting(
        "auto", "choice", choices=DEVICES, label="Device", cli="default {default}",
        help="auto = a CUDA GPU if there is one, else Apple's MPS, else the CPU.")
    threads: int | None = setting(
        None, "whole", low=1, high=1024, optional=True, cli="CPU threads for PyTorch (default: all cores)")
    eval_batch_size: int = setting(1000, "whole", low=1, high=65536)
    log_every: int | None = setting(  # steps between "step" events; None: about 50 per epoch
        None, "whole", low=1, high=10**6, optional=True)
    engine: str = setting(
        "torch", "choice", choices=ENGINES, names=ENGINE_NAMES, label="Engine",
        help="NumPy: seed 003's FullyConnectedNet written from scratch (fully connected networks, SGD, CPU "
             "only) — the From scratch page shows it beside PyTorch.",
        cli="torch (default), or numpy: seed 003's NumPy FullyConnectedNet trains a fully connected network "
            "(Flatten, Linear/ReLU layers) with SGD on the CPU")

    @property
    def learning_rate(self) -> float:
        """``lr``, or the usual one for the optimizer when ``lr`` is empty."""
        return learning_rate(self.optimizer, self.lr)

    @property
    def arch_label(self) -> str:
        """A short name of the network for run ids and tables: the preset id, file stem or spec name."""
        return arch_label(self.arch)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """A config from a dict; an unknown key is a ``TrainError`` that suggests the closest name."""
        names = list(SETTINGS)
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
        """Raise a ``TrainError`` naming the first setting that is out of range (in the order of the
        fields), or the first pair of settings that do not go together."""
        for s in SETTINGS.values():
            s.check(getattr(self, s.name))
            if s.name == "nesterov" and self.nesterov and (self.optimizer != "sgd" or self.momentum <= 0):
                raise TrainError("Nesterov momentum needs the SGD optimizer with a momentum above 0.",
                                 "Set momentum to 0.9, or turn nesterov off.")
        if self.subset is not None:
            from cnnedu.training.subset import parse_subset

            parse_subset(self.subset)
        if self.engine == "numpy":
            from cnnedu.training.numpy_engine import check_numpy_settings

            check_numpy_settings(self)


#: Every setting of ``TrainConfig``, by name, in the order of its fields.
SETTINGS: dict[str, Setting] = {
    f.name: replace(f.metadata["setting"], name=f.name) for f in fields(TrainConfig)
}


def learning_rate(optimizer: str, lr: float | None) -> float:
    """``lr``, or the usual one for ``optimizer`` (``DEFAULT_LR``) when ``lr`` is None."""
    return float(lr) if lr is not None else DEFAULT_LR.get(optimizer, 0.01)


def arch_label(arch: Any) -> str:
    """The network's short name: the preset id, the spec file's stem (``/`` or ``\\`` paths) or the
    spec's name."""
    if isinstance(arch, dict):
        return str(arch.get("name") or "custom")
    text = str(arch).replace("\\", "/").rsplit("/", 1)[-1]
    return text[:-5] if text.lower().endswith(".json") else text
