"""CIFAR-10: 60,000 colour 32×32 photos, downloaded once into the folder torchvision uses.

On disk (the layout torchvision's ``CIFAR10(root)`` uses, so both share one copy):

    <data>/cifar-10-python.tar.gz          the download (170 MB)
    <data>/cifar-10-batches-py/            what it unpacks to:
        data_batch_1 ... data_batch_5      10,000 training images each
        test_batch                         10,000 test images
        batches.meta                       the class names

Each batch file is a Python pickle of ``{"data": uint8 [10000, 3072], "labels": [...]}`` where each
row holds the red, then the green, then the blue 32×32 plane — already channels-first, so
``reshape(-1, 3, 32, 32)`` gives the NCHW tensor PyTorch wants. (torchvision transposes it to HWC for
PIL; we skip that.) A pickle can run code when loaded, so ours are read with an unpickler that only
accepts numpy arrays, lists, dicts, strings and numbers.
"""

from __future__ import annotations

import codecs
import io
import pickle
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path

import numpy as np
import torch

from cnnedu import paths
from cnnedu.data.dataset import Dataset, Progress
from cnnedu.data.download import DownloadFailed, download, files_key, offline_alternatives, read_each
from cnnedu.errors import DataError

BASE_FOLDER = "cifar-10-batches-py"
ARCHIVE = "cifar-10-python.tar.gz"
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILES = ["test_batch"]
META_FILE = "batches.meta"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
_MAX_BATCH_BYTES = 64 * 1024 * 1024

_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, list[str]]] = {}

_RECONSTRUCT = np.zeros(1).__reduce__()[0]  # numpy's array-rebuilding function, whatever module it lives in


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays and plain Python values, and refuses anything else."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
    }

    def find_class(self, module: str, name: str) -> object:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file") from None


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        raw = path.read_bytes()
        if len(raw) > _MAX_BATCH_BYTES:
            raise DataError(f"{path} is {len(raw) / 1e6:.0f} MB; a CIFAR-10 batch is about 31 MB",
                            "replace it with the original file")
        batch = _ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except DataError:
        raise
    except Exception as err:  # a damaged or foreign pickle can raise almost anything
        raise DataError(f"cannot read the CIFAR-10 file {path}: {err}",
                        f"delete the folder {path.parent} and let cnnedu unpack or download it again") from err
    if not isinstance(batch, dict):
        raise DataError(f"{path} is not a CIFAR-10 batch file (it holds a {type(batch).__name__})")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data = batch.get("data")
    labels = batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 \
            or labels is None or len(labels) != len(data):
        raise DataError(f"{path} is not a CIFAR-10 batch file (no uint8 [N, 3072] 'data' with N 'labels')",
                        "replace it with the original file")
    y = np.asarray(labels, dtype=np.int64)
    if len(y) and (y.min() < 0 or y.max() >= len(CLASSES)):
        raise DataError(f"{path} has labels outside 0..9", "replace it with the original file")
    return data.reshape(-1, 3, 32, 32), y


def _read_classes(folder: Path) -> list[str]:
    meta = folder / META_FILE
    if not meta.is_file():
        return list(CLASSES)
    try:
        names = _ArrayUnpickler(io.BytesIO(meta.read_bytes()), encoding="latin1").load()["label_names"]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        return names if len(names) == len(CLASSES) else list(CLASSES)
    except Exception:  # the names are a nicety: fall back to the official ones
        return list(CLASSES)


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in TRAIN_FILES + TEST_FILES)


def _roots(data_dir: str | Path | None) -> list[Path]:
    roots = [Path(data_dir).expanduser()] if data_dir is not None else []
    return roots + [paths.data_dir()]


def find_local(data_dir: str | Path | None = None) -> Path | None:
    """The unpacked ``cifar-10-batches-py`` folder on disk, or None (an archive alone does not count)."""
    candidates = [Path(data_dir).expanduser()] if data_dir is not None else []
    candidates += [root / BASE_FOLDER for root in _roots(data_dir)]
    return next((folder for folder in candidates if _complete(folder)), None)


def _unpack(archive: Path, progress: Progress | None) -> Path:
    """Unpack the archive next to itself, through a temporary folder so a failure leaves no half folder."""
    root = archive.parent
    target = root / BASE_FOLDER
    if progress:
        progress(0.0, f"unpacking {archive.name}")
    tmp = Path(tempfile.mkdtemp(prefix=".cifar-unpack-", dir=root))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith(BASE_FOLDER + "/")]
            tar.extractall(tmp, members=members, filter="data")
        unpacked = tmp / BASE_FOLDER
        if not _complete(unpacked):
            raise DataError(f"{archive} does not contain the CIFAR-10 batch files",
                            f"delete {archive} and download it again")
        target.mkdir(exist_ok=True)
        for f in unpacked.iterdir():  # moving file by file keeps what a user already put there
            f.replace(target / f.name)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise DataError(f"cannot unpack {archive}: {err}",
                        f"the file is damaged or incomplete: delete {archive} and download it again") from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _manual_steps(root: Path) -> str:
    return (f"put {ARCHIVE} (from https://www.cs.toronto.edu/~kriz/cifar.html, \"CIFAR-10 python version\") "
            f"into {root}/ — or its unpacked folder as {root / BASE_FOLDER}/ with data_batch_1 ... "
            f"data_batch_5, test_batch and batches.meta. " + offline_alternatives("cifar10"))


def _fetch(data_dir: str | Path | None, download_allowed: bool, progress: Progress | None) -> Path:
    """Find, unpack or download CIFAR-10; return its unpacked folder."""
    folder = find_local(data_dir)
    if folder:
        return folder
    for root in _roots(data_dir):
        if (root / ARCHIVE).is_file():
            return _unpack(root / ARCHIVE, progress)
    root = _roots(data_dir)[0]
    if not download_allowed:
        raise DataError(f"CIFAR-10 is not on this computer (looked in {', '.join(str(r) for r in _roots(data_dir))}) "
                        "and downloading is switched off.", "Allow the download, or " + _manual_steps(root))
    from torchvision.datasets import CIFAR10  # the URL and checksum, from one place

    try:
        download(CIFAR10.url, root / ARCHIVE, md5=CIFAR10.tgz_md5, progress=progress, label="CIFAR-10")
    except DownloadFailed as err:
        steps = _manual_steps(root)
        raise DataError(f"Could not download CIFAR-10: {err.reason}.", steps[0].upper() + steps[1:]) from err
    return _unpack(root / ARCHIVE, progress)


def load_cifar10(*, data_dir: str | Path | None = None, download: bool = True,
                 progress: Progress | None = None) -> Dataset:
    """All 50,000 + 10,000 CIFAR-10 images as uint8 [N, 3, 32, 32] (cached in memory: treat as read-only)."""
    folder = _fetch(data_dir, download, progress)
    files = [folder / name for name in TRAIN_FILES + TEST_FILES]
    key = files_key(folder, files)
    if key not in _CACHE:
        parts = read_each(files, _read_batch, "CIFAR-10", progress)
        train = parts[:len(TRAIN_FILES)]
        test = parts[len(TRAIN_FILES):]
        _CACHE[key] = (torch.from_numpy(np.concatenate([x for x, _ in train])),
                       torch.from_numpy(np.concatenate([y for _, y in train])),
                       torch.from_numpy(np.concatenate([x for x, _ in test])),
                       torch.from_numpy(np.concatenate([y for _, y in test])),
                       _read_classes(folder))
        if progress:
            progress(1.0, "CIFAR-10 ready")
    train_x, train_y, test_x, test_y, classes = _CACHE[key]
    return Dataset("cifar10", list(classes), str(folder), train_x, train_y, test_x, test_y)
