"""MNIST and Fashion-MNIST: four IDX files each, found on disk or downloaded once.

Both come as the same four files (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``; unpacked copies without ``.gz`` work too).
cnnedu looks for them in this order and uses the first folder that has all four:

- Fashion-MNIST: the ``data_dir`` you give (or its ``FashionMNIST/raw``), ``<data>/fashion-mnist``,
  ``<data>/FashionMNIST/raw``, then ``/usr/share/datasets/fashion-mnist`` (Debian's
  ``dataset-fashion-mnist`` package);
- MNIST: the ``data_dir`` you give (or its ``MNIST/raw``), then ``<data>/MNIST/raw``;

where ``<data>`` is ``cnnedu.paths.data_dir()``. If none has them, they are downloaded from the mirrors
torchvision uses into ``<data>/MNIST/raw`` or ``<data>/FashionMNIST/raw`` — the folders torchvision itself
uses, so the two share one copy. Decoded tensors stay in memory: the second load is instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch

from cnnedu import paths
from cnnedu.data.dataset import Dataset, Progress
from cnnedu.data.download import DownloadFailed, download, files_key, offline_alternatives, read_each
from cnnedu.data.idx import read_idx
from cnnedu.errors import DataError

FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian: dataset-fashion-mnist

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
MNIST_CLASSES = [str(d) for d in range(10)]


@dataclass(frozen=True)
class _Family:
    name: str
    title: str
    classes: list[str]
    torchvision_folder: str  # torchvision's <root>/<folder>/raw
    own_folder: str | None  # cnnedu's extra place to look, <data>/<own_folder>
    system_dir: Path | None


_FAMILIES = {
    "fashion-mnist": _Family("fashion-mnist", "Fashion-MNIST", FASHION_CLASSES, "FashionMNIST",
                             "fashion-mnist", FASHION_SYSTEM_DIR),
    "mnist": _Family("mnist", "MNIST", MNIST_CLASSES, "MNIST", None, None),
}

# Decoded tensors by (folder, files' sizes and times): decoding 60,000 images takes a while.
_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = {}


def _find_files(folder: Path) -> list[Path] | None:
    """The four files in ``folder`` (``.gz`` or unpacked), or None if any is missing."""
    found = []
    for name in FILES:
        for candidate in (folder / f"{name}.gz", folder / name):
            if candidate.is_file():
                found.append(candidate)
                break
        else:
            return None
    return found


def _candidates(family: _Family, data_dir: str | Path | None) -> list[Path]:
    folders: list[Path] = []
    if data_dir is not None:
        user = Path(data_dir).expanduser()
        folders += [user, user / family.torchvision_folder / "raw"]
    root = paths.data_dir()
    if family.own_folder:
        folders.append(root / family.own_folder)
    folders.append(root / family.torchvision_folder / "raw")
    if family.system_dir:
        folders.append(family.system_dir)
    return folders


def find_local(name: str, data_dir: str | Path | None = None) -> Path | None:
    """The folder the dataset would be read from without downloading, or None if it is not on disk."""
    family = _FAMILIES[name]
    for folder in _candidates(family, data_dir):
        if _find_files(folder):
            return folder
    return None


def _download_dir(family: _Family, data_dir: str | Path | None) -> Path:
    root = Path(data_dir).expanduser() if data_dir is not None else paths.data_dir()
    return root / family.torchvision_folder / "raw"


def _mirrors_and_md5(family: _Family) -> tuple[list[str], dict[str, str]]:
    """The download mirrors and checksums, taken from torchvision so there is one place to update them."""
    from torchvision import datasets

    cls = datasets.FashionMNIST if family.name == "fashion-mnist" else datasets.MNIST
    return list(cls.mirrors), dict(cls.resources)


def _manual_steps(family: _Family, folder: Path, mirrors: list[str] | None = None) -> str:
    where = f" (from {mirrors[0]})" if mirrors else ""
    return (f"copy the four {family.title} files into {folder}/ by hand — "
            + ", ".join(f"{name}.gz" for name in FILES)
            + f"{where}; unpacked files without .gz work too. " + offline_alternatives(family.name))


def _download(family: _Family, data_dir: str | Path | None, progress: Progress | None) -> Path:
    folder = _download_dir(family, data_dir)
    mirrors, md5s = _mirrors_and_md5(family)
    for i, name in enumerate(FILES):
        target = folder / f"{name}.gz"
        if target.is_file():
            continue
        reasons = []
        for mirror in mirrors:
            def step(fraction: float, message: str, i: int = i) -> None:
                if progress:
                    progress((i + fraction) / len(FILES), message)
            try:
                download(mirror + target.name, target, md5=md5s.get(target.name), progress=step,
                         label=f"{family.title} {target.name}")
                break
            except DownloadFailed as err:
                reasons.append(err.reason)
        else:
            reason = "; ".join(dict.fromkeys(reasons))  # the same reason from every mirror once
            if all(r.startswith("no network connection") for r in reasons):
                hosts = ", ".join(urlparse(m).hostname or m for m in mirrors)
                reason = f"no network connection (cannot look up {hosts})"
            steps = _manual_steps(family, folder, mirrors)
            raise DataError(f"Could not download {family.title}: {reason}.", steps[0].upper() + steps[1:])
    return folder


def _decode(folder: Path, files: list[Path], family: _Family,
            progress: Progress | None) -> tuple[torch.Tensor, ...]:
    key = files_key(folder, files)
    if key not in _CACHE:
        arrays = read_each(files, read_idx, family.title, progress)
        train_x, train_y, test_x, test_y = arrays
        for images, labels, split in ((train_x, train_y, "train"), (test_x, test_y, "test")):
            if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
                raise DataError(f"the {family.title} {split} files in {folder} do not match: "
                                f"images {list(images.shape)}, labels {list(labels.shape)}",
                                "replace them with the original files")
            if len(labels) and int(labels.max()) >= len(family.classes):
                raise DataError(f"the {family.title} {split} labels in {folder} go up to {int(labels.max())}; "
                                f"{family.title} has {len(family.classes)} classes",
                                "replace them with the original files")
        _CACHE[key] = (torch.from_numpy(train_x.copy()).unsqueeze(1), torch.from_numpy(train_y.astype("int64")),
                       torch.from_numpy(test_x.copy()).unsqueeze(1), torch.from_numpy(test_y.astype("int64")))
        if progress:
            progress(1.0, f"{family.title} ready")
    return _CACHE[key]


def load_mnist_family(name: str, *, data_dir: str | Path | None = None, download: bool = True,
                      progress: Progress | None = None) -> Dataset:
    """MNIST (``name="mnist"``) or Fashion-MNIST (``"fashion-mnist"``), all 60,000 + 10,000 images.

    The tensors are shared with an in-memory cache: treat them as read-only.
    """
    family = _FAMILIES[name]
    folder = find_local(name, data_dir)
    if folder is None:
        if not download:
            looked = ", ".join(str(f) for f in _candidates(family, data_dir))
            raise DataError(f"{family.title} is not on this computer (looked in {looked}) and downloading "
                            "is switched off.",
                            "Allow the download, or " + _manual_steps(family, _download_dir(family, data_dir)))
        folder = _download(family, data_dir, progress)
    files = _find_files(folder)
    assert files is not None
    train_x, train_y, test_x, test_y = _decode(folder, files, family, progress)
    return Dataset(name, list(family.classes), str(folder), train_x, train_y, test_x, test_y)
