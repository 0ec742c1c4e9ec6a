"""Datasets for cnnedu: every one arrives as uint8 image tensors in memory (see ``Dataset``).

    from cnnedu.data import load_dataset, shape_mismatch, fit_to_shape
    ds = load_dataset("fashion-mnist")               # 60,000 + 10,000 images, 1×28×28
    if (why := shape_mismatch(ds, (3, 32, 32))):     # a CIFAR-10 network?
        print(why)                                   # "... cnnedu can convert them (grayscale → RGB, ...)"
        ds = fit_to_shape(ds, (3, 32, 32))
    mean, std = ds.channel_stats()

Names (``DATASETS`` describes them): "synthetic" (drawn by cnnedu, offline, any shape), "gaze-synthetic"
(eye pairs drawn by cnnedu for seed 003's gaze presets, 1×36×120, 4 quadrants), "fashion-mnist", "mnist",
"cifar10" (downloaded once, unless on disk) and "folder" (your own images: one sub-folder per class, or
MPIIFaceGaze's Image/ + Label/ layout).
"""

from __future__ import annotations

from pathlib import Path

from cnnedu.data.augment import normalize, preview, random_crop, random_flip, to_float
from cnnedu.data.convert import fit_to_shape, shape_mismatch
from cnnedu.data.dataset import DATASETS, Dataset, DatasetInfo, Progress, keep_classes, subsample
from cnnedu.data.folder import read_image
from cnnedu.data.gazefolder import is_gaze_folder
from cnnedu.data.stats import channel_stats, split_validation
from cnnedu.data.synthetic import CLASS_NAMES as SYNTHETIC_CLASSES
from cnnedu.errors import DataError
from cnnedu.paths import allowed_folder

__all__ = [
    "DATASETS", "Dataset", "DatasetInfo", "Progress", "SYNTHETIC_CLASSES", "channel_stats", "find_local",
    "fit_to_shape", "load_dataset", "normalize", "preview", "random_crop", "random_flip", "read_image",
    "shape_mismatch", "split_validation", "to_float",
]


def load_dataset(name: str, *, input_shape: tuple[int, int, int] | None = None, num_classes: int | None = None,
                 data_dir: str | Path | None = None, seed: int = 0, n_train: int | None = None,
                 n_test: int | None = None, download: bool = True, progress: Progress | None = None) -> Dataset:
    """Load a dataset by name. Raises ``DataError`` with a fix when it cannot.

    - ``input_shape`` [C, H, W]: the image shape to *generate* ("synthetic", default 1×28×28) or to *read
      as* ("folder", default: the images' most common size, colour if any image has colour). The fixed
      datasets (gaze-synthetic, mnist, fashion-mnist, cifar10, and a folder in MPIIFaceGaze's layout)
      always come in their own shape: use ``shape_mismatch`` to explain and ``fit_to_shape`` to convert.
    - ``num_classes``: the classes to generate ("synthetic", 1-10, default 10); for the others, keep only
      the first ``num_classes`` classes (a network with more outputs than classes is refused).
    - ``data_dir``: the image folder ("folder", required); for the others, an extra place to look first
      (and to download into).
    - ``seed``: makes the synthetic images, the folder's train/test split and the ``n_train``/``n_test``
      subsets repeatable.
    - ``n_train``, ``n_test``: how many images to keep (a random subset; synthetic: how many to draw,
      default 20000 and 1000). None keeps them all.
    - ``download``: allow downloading mnist, fashion-mnist and cifar10 when they are not on disk.
    - ``progress(fraction, message)``: called while downloading or reading.

    The tensors of mnist, fashion-mnist, cifar10 and folder datasets are shared with an in-memory cache
    (the second load is instant): treat them as read-only.
    """
    key = str(name).strip().lower()
    if key not in DATASETS:
        raise DataError(f"unknown dataset {name!r}", f"choose one of: {', '.join(DATASETS)}")
    if data_dir is not None and str(data_dir).strip() and key not in ("synthetic", "gaze-synthetic"):
        data_dir = allowed_folder(data_dir)
    if key == "synthetic":
        from cnnedu.data.synthetic import load_synthetic

        return load_synthetic(input_shape=input_shape, num_classes=num_classes, seed=seed, n_train=n_train,
                              n_test=n_test, progress=progress)
    if key == "gaze-synthetic":
        from cnnedu.data.gaze import load_gaze_synthetic

        ds = load_gaze_synthetic(seed=seed, n_train=n_train, n_test=n_test, progress=progress)
        return keep_classes(ds, num_classes)
    if key == "folder" and data_dir is not None and is_gaze_folder(data_dir):
        from cnnedu.data.gazefolder import load_gaze_folder  # reads only the n_train + n_test images it keeps

        ds = load_gaze_folder(data_dir, seed=seed, n_train=n_train, n_test=n_test, progress=progress)
        return keep_classes(ds, num_classes)
    if key in ("mnist", "fashion-mnist"):
        from cnnedu.data.mnist import load_mnist_family

        ds = load_mnist_family(key, data_dir=data_dir, download=download, progress=progress)
    elif key == "cifar10":
        from cnnedu.data.cifar import load_cifar10

        ds = load_cifar10(data_dir=data_dir, download=download, progress=progress)
    else:
        from cnnedu.data.folder import load_folder

        ds = load_folder(data_dir, input_shape=input_shape, seed=seed, progress=progress)
    ds = keep_classes(ds, num_classes)
    ds.train_x, ds.train_y = subsample(ds.train_x, ds.train_y, n_train, seed, "train", ds.warnings)
    ds.test_x, ds.test_y = subsample(ds.test_x, ds.test_y, n_test, seed, "test", ds.warnings)
    return ds


def find_local(name: str, data_dir: str | Path | None = None) -> Path | None:
    """Where a downloadable dataset already is on disk (None: the first load will download it).

    For "synthetic", "gaze-synthetic" and "folder" there is nothing to find: None.
    """
    if data_dir is not None and str(data_dir).strip():
        data_dir = allowed_folder(data_dir)
    if name in ("mnist", "fashion-mnist"):
        from cnnedu.data.mnist import find_local as find_idx

        return find_idx(name, data_dir)
    if name == "cifar10":
        from cnnedu.data.cifar import find_local as find_cifar

        return find_cifar(data_dir)
    return None
