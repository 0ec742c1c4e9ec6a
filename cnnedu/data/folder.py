"""Your own images: a folder with one sub-folder per class.

    gaze/                          or, with a split of your own:   gaze/train/q1/*.png
        q1/  img001.png ...                                        gaze/train/q2/ ...
        q2/  ...                                                   gaze/test/q1/ ...
        q3/  ...
        q4/  ...

The sub-folder names become the class names (sorted, so ``q2`` comes before ``q10``). Without
``train/`` and ``test/`` sub-folders, each class is split by the seed: 80% train, 20% test.

Every image is read by ``cnnedu.vision.images`` — the same code that prepares an uploaded image for
prediction, so a trained network later sees pictures prepared exactly as in training:

1. decoded safely (size caps before decoding: no "decompression bomb" fills memory);
2. turned upright by its EXIF orientation tag (phone photos);
3. transparent parts laid over white, 16-bit images scaled (not clipped) to 0..255;
4. made grayscale ("L", for C = 1, luma = 0.299 R + 0.587 G + 0.114 B) or RGB (C = 3);
5. resized to H×W (bilinear, smoothing when shrinking; stretched: the aspect ratio is not kept).

Files that cannot be read are skipped and listed in ``Dataset.warnings``.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cnnedu.data.dataset import Dataset, Progress, check_input_shape
from cnnedu.errors import DataError, PredictError
from cnnedu.vision import images
from cnnedu.vision.pixels import mode_for_channels

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
DEFAULT_TEST_FRACTION = 0.2
MAX_DEFAULT_SIDE = 128  # when input_shape is not given, images larger than this are shrunk to fit
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}

_CACHE: dict[tuple, Dataset] = {}
_CACHE_SIZE = 4


def _natural_key(name: str) -> list:
    """Sort "q2" before "q10": digits compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def read_image(source: str | Path | bytes, input_shape: tuple[int, int, int]) -> torch.Tensor:
    """One image file as uint8 [C, H, W], prepared exactly as ``cnnedu.vision.images`` prepares an image for
    prediction (safe decoding, upright, transparency over white, L or RGB, stretched to H×W).

    Raises DataError (with the reason) for a file that is not a readable image.
    """
    c, h, w = check_input_shape(input_shape)
    if c not in (1, 3):
        raise DataError(f"images are read as grayscale (1 channel) or RGB (3 channels), not {c} channels",
                        "use an input shape with C = 1 or C = 3")
    try:
        img = images.load_image(source)
        img, _ = images.to_channels(img, mode_for_channels(c))
        img, _ = images.fit_size(img, w, h, fit="resize")
    except PredictError as err:
        raise DataError(err.message, err.fix) from None
    arr = np.array(img, dtype=np.uint8)  # a writable copy
    arr = arr[None] if c == 1 else arr.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(arr))


def _subdirs(folder: Path) -> list[Path]:
    dirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))]
    return sorted(dirs, key=lambda p: _natural_key(p.name))


def _image_files(folder: Path) -> tuple[list[Path], int]:
    """The image files directly in ``folder`` (sorted) and how many other files were ignored."""
    files, ignored = [], 0
    for p in folder.iterdir():
        if p.name.startswith(".") or not p.is_file():
            continue
        if p.suffix.lower() in IMAGE_EXTENSIONS:
            files.append(p)
        else:
            ignored += 1
    return sorted(files, key=lambda p: _natural_key(p.name)), ignored


def _layout(root: Path) -> tuple[list[str], dict[str, list[Path]], dict[str, list[Path]] | None, int]:
    """Class names, train files per class, test files per class (None: split by seed), ignored count."""
    if not root.exists():
        raise DataError(f"the image folder {root} does not exist",
                        "give the path of a folder with one sub-folder of images per class")
    if not root.is_dir():
        raise DataError(f"{root} is a file, not a folder",
                        "give the path of a folder with one sub-folder of images per class")
    top = {p.name.lower(): p for p in _subdirs(root)}
    has_split = "train" in top and "test" in top
    train_root = top["train"] if has_split else root
    class_dirs = _subdirs(train_root)
    if len(class_dirs) < 2:
        loose, _ = _image_files(train_root)
        found = ", ".join(p.name for p in class_dirs) or "none"
        hint = f" (it holds {len(loose)} images directly)" if loose else ""
        raise DataError(
            f"{train_root} has {len(class_dirs)} class sub-folder(s) ({found}){hint}; a dataset needs at least 2",
            f"sort the images into one sub-folder per class, e.g. {train_root}/cat/1.png and {train_root}/dog/1.png")
    classes = [p.name for p in class_dirs]
    ignored = 0
    train: dict[str, list[Path]] = {}
    for d in class_dirs:
        train[d.name], n = _image_files(d)
        ignored += n
    test: dict[str, list[Path]] | None = None
    if has_split:
        test = {name: [] for name in classes}
        for d in _subdirs(top["test"]):
            if d.name not in test:
                raise DataError(f"{d} is a class that train/ does not have (train/ has {', '.join(classes)})",
                                f"add {train_root / d.name}/ with training images, or remove {d}")
            test[d.name], n = _image_files(d)
            ignored += n
    return classes, train, test, ignored


def _guess_shape(files: list[Path]) -> tuple[tuple[int, int, int], str | None]:
    """The input shape to use when none is given: the most common size, colour if any image has colour."""
    step = max(1, len(files) // 200)
    sizes: Counter[tuple[int, int]] = Counter()
    colour = False
    for f in files[::step]:
        try:
            with Image.open(f) as img:  # reads the header only
                w, h = img.size
                if img.getexif().get(0x0112) in (5, 6, 7, 8):  # EXIF says: rotated by 90°
                    w, h = h, w
                sizes[(h, w)] += 1
                colour |= img.mode not in _GRAY_MODES
        except Exception:  # unreadable files are reported when they are read for real
            continue
    if not sizes:
        return (1, 28, 28), None
    (h, w), _ = sizes.most_common(1)[0]
    note = None
    if max(h, w) > MAX_DEFAULT_SIDE:
        scale = MAX_DEFAULT_SIDE / max(h, w)
        note = (f"images are {h}×{w}; shrunk to {max(1, round(h * scale))}×{max(1, round(w * scale))} "
                f"(set input_shape to choose another size)")
        h, w = max(4, round(h * scale)), max(4, round(w * scale))
    return (3 if colour else 1, max(4, h), max(4, w)), note


def _read_all(files: list[tuple[Path, int]], shape: tuple[int, int, int], progress: Progress | None,
              bad: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.empty(len(files), *shape, dtype=torch.uint8)
    y = torch.empty(len(files), dtype=torch.int64)
    n = 0
    for i, (path, label) in enumerate(files):
        if progress and i % 50 == 0:
            progress(i / max(1, len(files)), f"reading images {i}/{len(files)}")
        try:
            x[n] = read_image(path, shape)
        except DataError as err:
            bad.append(f"{path.parent.name}/{path.name}: {err.message.rstrip('.')}")
            continue
        y[n] = label
        n += 1
    return x[:n].clone(), y[:n].clone()


def _signature(classes: list[str], train: dict[str, list[Path]], test: dict[str, list[Path]] | None) -> tuple:
    """Names, sizes and times of all files: the cache is used only while none of them changed."""
    def stat(files: dict[str, list[Path]] | None) -> tuple:
        if files is None:
            return ()
        return tuple((name, p.name, p.stat().st_size, p.stat().st_mtime_ns) for name in classes for p in files[name])
    return stat(train), stat(test)


def load_folder(data_dir: str | Path | None, *, input_shape: tuple[int, int, int] | None = None,
                seed: int = 0, test_fraction: float = DEFAULT_TEST_FRACTION,
                progress: Progress | None = None) -> Dataset:
    """Read an image folder (one sub-folder per class) into a Dataset; see the module docstring."""
    if data_dir is None or str(data_dir).strip() == "":
        raise DataError("the image-folder dataset needs a folder (data_dir)",
                        "give the path of a folder with one sub-folder of images per class")
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"the test fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    root = Path(data_dir).expanduser()
    classes, train_files, test_files, ignored = _layout(root)
    all_files = [p for name in classes for p in train_files[name]]
    if test_files:
        all_files += [p for name in classes for p in test_files[name]]
    shape, notes = _input_shape(input_shape, all_files)

    key = (str(root.resolve()), shape, seed, test_fraction, _signature(classes, train_files, test_files))
    if key in _CACHE:
        return _copy(_CACHE[key])

    bad: list[str] = []
    train_x, train_y, test_x, test_y = _read_split(root, classes, train_files, test_files, shape, seed,
                                                   test_fraction, progress, bad)
    # Shuffle (by the seed) so the images are not ordered class by class.
    g = torch.Generator().manual_seed(int(seed))
    order, test_order = torch.randperm(len(train_y), generator=g), torch.randperm(len(test_y), generator=g)
    train_x, train_y, test_x, test_y = train_x[order], train_y[order], test_x[test_order], test_y[test_order]
    if progress:
        progress(1.0, f"read {len(train_y) + len(test_y)} images")

    ds = Dataset("folder", classes, str(root), train_x, train_y, test_x, test_y, notes + _notes(bad, ignored))
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = ds
    return _copy(ds)


def _input_shape(input_shape: tuple[int, int, int] | None,
                 files: list[Path]) -> tuple[tuple[int, int, int], list[str]]:
    """The shape to read the images at (the given one, or guessed from ``files``) and a note on a guess."""
    if input_shape is None:
        shape, note = _guess_shape(files)
        return shape, [note] if note else []
    shape = check_input_shape(input_shape)
    if shape[0] not in (1, 3):
        raise DataError(f"images are read as grayscale (1 channel) or RGB (3 channels), not {shape[0]}",
                        "use an input shape with C = 1 or C = 3")
    return shape, []


def _read_split(root: Path, classes: list[str], train_files: dict[str, list[Path]],
                test_files: dict[str, list[Path]] | None, shape: tuple[int, int, int], seed: int,
                test_fraction: float, progress: Progress | None, bad: list[str]) -> tuple[torch.Tensor, ...]:
    """(train_x, train_y, test_x, test_y): test/ read as it is, or the train images split by the seed.
    Unreadable files are added to ``bad``; a class or a test set without a readable image is an error."""
    labelled = [(p, k) for k, name in enumerate(classes) for p in train_files[name]]
    x, y = _read_all(labelled, shape, progress, bad)
    counts = torch.bincount(y, minlength=len(classes))
    empty = [name for name, count in zip(classes, counts.tolist()) if count == 0]
    if empty:
        where = root / "train" if test_files is not None else root
        raise DataError(f"the class folder(s) {', '.join(repr(n) for n in empty)} in {where} have no readable "
                        f"images", f"put .png or .jpg images into {where}/{empty[0]}/ or remove the folder")
    if test_files is not None:
        test_labelled = [(p, k) for k, name in enumerate(classes) for p in test_files[name]]
        test_x, test_y = _read_all(test_labelled, shape, progress, bad)
        if len(test_y) == 0:
            raise DataError(f"{root / 'test'} has no readable images",
                            "put images into its class sub-folders, or remove test/ and train/ to split by seed")
        return x, y, test_x, test_y
    from cnnedu.data.stats import split_validation

    train_x, train_y, test_x, test_y = split_validation(x, y, test_fraction, seed)
    if len(test_y) == 0:
        raise DataError(f"{root} has too few images to keep some for testing ({len(y)} readable)",
                        "add more images: at least 2 per class")
    return train_x, train_y, test_x, test_y


def _notes(bad: list[str], ignored: int) -> list[str]:
    """The warnings about files skipped (unreadable) and ignored (not images by their extension)."""
    notes = []
    if bad:
        shown = "; ".join(bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        notes.append(f"skipped {len(bad)} file(s) that are not readable images: {shown}")
    if ignored:
        notes.append(f"ignored {ignored} file(s) that are not images (by their extension)")
    return notes


def _copy(ds: Dataset) -> Dataset:
    """A Dataset sharing ``ds``'s tensors with lists of its own (a caller may change them; the cache keeps its own)."""
    return Dataset(ds.name, list(ds.classes), ds.source, ds.train_x, ds.train_y, ds.test_x, ds.test_y,
                   list(ds.warnings))
