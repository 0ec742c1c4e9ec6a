"""A run's data: the dataset as uint8 tensors at the network's input shape (converted when allowed), the
validation split, and the per-channel normalisation statistics. Both engines start from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from cnnedu.arch.spec import Spec
from cnnedu.errors import TrainError
from cnnedu.training.checks import check_network
from cnnedu.training.config import FIXED_NORM_STATS, TrainConfig
from cnnedu.training.subset import subset_indices


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
    measured: tuple[list[float], list[float]] | None = None  # the training images' own (mean, std)

    def info(self, spec: Spec) -> dict[str, Any]:
        """The "dataset" of the start event and of the results."""
        ds = self.ds
        return {"name": ds.name, "title": ds.title, "classes": list(ds.classes), "source": ds.source,
                "n_train": len(self.train_y), "n_val": 0 if self.val_y is None else len(self.val_y),
                "n_test": len(ds.test_y), "input_shape": list(spec.input_shape),
                "measured_mean": None if self.measured is None else self.measured[0],
                "measured_std": None if self.measured is None else self.measured[1]}


def training_data(config: TrainConfig, spec: Spec, warnings: list[str]) -> TrainingData:
    """Load the run's data, hold out the validation split, refuse too few images or a network too big for
    the batch (``check_network``; its warnings go to ``warnings``) and measure the normalisation."""
    from cnnedu import data

    ds = load_data(config, spec, warnings)
    train_x, train_y, val_x, val_y = ds.train_x, ds.train_y, None, None
    if config.subset is not None:
        keep = subset_indices(config.subset, train_y, config.seed)
        train_x, train_y = train_x[keep], train_y[keep]
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
    measured = data.channel_stats(train_x)
    mean, std = normalization(config, measured, spec.input_shape[0])
    return TrainingData(ds, train_x, train_y, val_x, val_y, mean, std, measured)


def normalization(config: TrainConfig, measured: tuple[list[float], list[float]],
                  channels: int) -> tuple[list[float], list[float]]:
    """The per-channel (mean, std) the batches are normalised with: 0 and 1 with normalize off, the
    ``measured`` ones (std at least 0.001), or the fixed pair ``config.norm_stats`` names, per channel."""
    if not config.normalize:
        return [0.0] * channels, [1.0] * channels
    if config.norm_stats in FIXED_NORM_STATS:
        m, s = FIXED_NORM_STATS[config.norm_stats]
        return [m] * channels, [s] * channels
    return [float(m) for m in measured[0]], [max(float(s), 1e-3) for s in measured[1]]

