"""The one shape every dataset takes in cnnedu: uint8 image tensors plus class names.

A ``Dataset`` holds the whole train and test split in memory as two tensors each, like
KellerJordan/airbench does: ``train_x`` is ``uint8 [N, C, H, W]`` (pixel values 0..255, channels first,
as PyTorch's convolutions want them) and ``train_y`` is ``int64 [N]`` (class indices into ``classes``).
Keeping pixels as uint8 costs a quarter of the memory of float32; the trainer turns a batch into floats
(``augment.to_float``) on the training device just before it is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from cnnedu.errors import DataError

#: A progress callback: ``progress(fraction, message)`` with ``fraction`` in 0..1.
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class DatasetInfo:
    """What the UI shows about a dataset before it is loaded."""

    name: str
    title: str
    description: str
    needs_network: bool  # True when the first use downloads it (unless the files are already there)
    shape: tuple[int, int, int] | None  # native [C, H, W]; None when it depends on the files or settings
    num_classes: int | None
    download_mb: float = 0.0


DATASETS: dict[str, DatasetInfo] = {
    "synthetic": DatasetInfo(
        "synthetic", "Synthetic shapes",
        "Shapes drawn by cnnedu itself (ring, cross, bars, triangle, checkerboard, ...) at random places, "
        "sizes, angles and brightness on a noisy background. Any image size, 1 to 10 classes, no download: "
        "a small CNN learns it in seconds.",
        needs_network=False, shape=None, num_classes=None),
    "gaze-synthetic": DatasetInfo(
        "gaze-synthetic", "Eye gaze (synthetic)",
        "Pairs of eyes drawn by cnnedu, 1×36×120 like seed 003's MPIIFaceGaze images, looking into one of 4 "
        "quadrants (up-left, up-right, down-right, down-left). 15 people per split, each with their own eyes, "
        "plus head shifts, lighting, blur and noise; the test set has other people than the training set. "
        "No download: the offline stand-in for the eye-gaze presets.",
        needs_network=False, shape=(1, 36, 120), num_classes=4),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist", "Fashion-MNIST",
        "Zalando's 70,000 grayscale 28×28 photos of clothes in 10 classes (60,000 train, 10,000 test). "
        "Read from the Debian package dataset-fashion-mnist when installed, else downloaded once.",
        needs_network=False, shape=(1, 28, 28), num_classes=10, download_mb=30.0),
    "mnist": DatasetInfo(
        "mnist", "MNIST",
        "70,000 grayscale 28×28 handwritten digits 0-9 (60,000 train, 10,000 test). Downloaded on "
        "first use (about 11 MB).",
        needs_network=True, shape=(1, 28, 28), num_classes=10, download_mb=11.6),
    "cifar10": DatasetInfo(
        "cifar10", "CIFAR-10",
        "60,000 colour 32×32 photos in 10 classes (airplane, automobile, bird, ...; 50,000 train, "
        "10,000 test). Downloaded on first use (about 170 MB).",
        needs_network=True, shape=(3, 32, 32), num_classes=10, download_mb=170.5),
    "folder": DatasetInfo(
        "folder", "Image folder",
        "Your own images: a folder with one sub-folder per class (for example eye images sorted into "
        "four gaze quadrants). Split 80/20 into train/test unless it has train/ and test/ sub-folders. "
        "A folder in MPIIFaceGaze's layout (Image/ and Label/, as seed 003 uses) is read as 1×36×120 eye "
        "pairs in 4 gaze quadrants.",
        needs_network=False, shape=None, num_classes=None),
}


@dataclass(eq=False)
class Dataset:
    """A train/test split of uint8 images in memory.

    ``source`` says where the images came from: the folder they were read from, or ``"generated"``.
    ``warnings`` collects what a user should know but that did not stop loading (skipped corrupt files,
    conversions, a smaller subset than asked for).
    """

    name: str
    classes: list[str]
    source: str
    train_x: torch.Tensor  # uint8 [N, C, H, W]
    train_y: torch.Tensor  # int64 [N]
    test_x: torch.Tensor
    test_y: torch.Tensor
    warnings: list[str] = field(default_factory=list)
    _stats: tuple[list[float], list[float]] | None = field(default=None, init=False, repr=False)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The shape of one image, ``(C, H, W)``."""
        c, h, w = self.train_x.shape[1:]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def title(self) -> str:
        """A human name: "Fashion-MNIST", "Synthetic shapes", "images in gaze/"."""
        if self.name == "folder":
            return f"images in {Path(self.source).name}/"
        info = DATASETS.get(self.name)
        return info.title if info else self.name

    def channel_stats(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and std of the training images in 0..1 units (computed once, then cached)."""
        if self._stats is None:
            from cnnedu.data.stats import channel_stats

            self._stats = channel_stats(self.train_x)
        return self._stats

    def describe(self) -> str:
        """One line for a log or the CLI: name, sizes, shape, classes."""
        c, h, w = self.input_shape
        return (f"{self.title}: {len(self.train_y)} train + {len(self.test_y)} test images of "
                f"{c}×{h}×{w}, {self.num_classes} classes ({', '.join(self.classes)}) from {self.source}")


def check_input_shape(input_shape: object) -> tuple[int, int, int]:
    """``input_shape`` as a ``(C, H, W)`` tuple of ints, or a DataError saying what is wrong with it."""
    try:
        c, h, w = (int(v) for v in input_shape)  # type: ignore[union-attr]
        ok = all(float(v) == int(v) for v in input_shape)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise DataError(f"input_shape must be three whole numbers [C, H, W], got {input_shape!r}",
                        "for example [1, 28, 28] for grayscale 28×28 images")
    if not 1 <= c <= 4:
        raise DataError(f"input_shape {[c, h, w]}: images have 1 to 4 channels, not {c}",
                        "use C = 1 for grayscale or C = 3 for RGB")
    if not (4 <= h <= 1024 and 4 <= w <= 1024):
        raise DataError(f"input_shape {[c, h, w]}: height and width must be between 4 and 1024 pixels")
    return c, h, w


def shape_str(shape: tuple[int, ...]) -> str:
    """``(1, 28, 28)`` → ``"1×28×28"``."""
    return "×".join(str(int(v)) for v in shape)


def subsample(x: torch.Tensor, y: torch.Tensor, n: int | None, seed: int, what: str,
              warnings: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """A random subset of ``n`` samples (the same for the same seed); all of them when ``n`` is None.

    Asking for more than there are keeps them all and notes it in ``warnings``.
    """
    if n is None:
        return x, y
    if n < 1:
        raise DataError(f"the number of {what} images must be at least 1, got {n}")
    if n >= len(y):
        if n > len(y):
            warnings.append(f"asked for {n} {what} images but there are only {len(y)}: using all of them")
        return x, y
    g = torch.Generator().manual_seed(int(seed) * 7919 + (1 if what == "test" else 0))
    idx = torch.randperm(len(y), generator=g)[:n].sort().values
    return x[idx].contiguous(), y[idx].contiguous()


def keep_classes(ds: Dataset, num_classes: int | None) -> Dataset:
    """Keep only the first ``num_classes`` classes (e.g. digits 0-3 of MNIST for a 4-output network).

    A network with more outputs than the dataset has classes is refused: its extra outputs would never be
    trained, and the exported model would name classes that do not exist.
    """
    if num_classes is None or num_classes == ds.num_classes:
        return ds
    if num_classes < 1:
        raise DataError(f"num_classes must be at least 1, got {num_classes}")
    if num_classes > ds.num_classes:
        raise DataError(
            f"the network has {num_classes} outputs but {ds.title} has only {ds.num_classes} classes",
            f"set the last layer to {ds.num_classes} outputs (num_classes = {ds.num_classes})")
    train = ds.train_y < num_classes
    test = ds.test_y < num_classes
    kept = Dataset(ds.name, ds.classes[:num_classes], ds.source, ds.train_x[train], ds.train_y[train],
                   ds.test_x[test], ds.test_y[test], list(ds.warnings))
    kept.warnings.append(f"kept the first {num_classes} of {ds.num_classes} classes "
                         f"({', '.join(kept.classes)}) for a network with {num_classes} outputs")
    return kept
