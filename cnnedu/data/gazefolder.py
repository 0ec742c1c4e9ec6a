"""A real MPIIFaceGaze folder, laid out as seed 003 uses it: ``Image/`` and ``Label/``.

Seed 003 unzips the course's MPIIFaceGaze into ``datasets/MPIIFaceGaze/`` holding two folders, ``Image``
and ``Label``, and reads them with the course's ``utils/data_utils.py`` (the document does not print it;
this module does what that loader does)::

    MPIIFaceGaze/
        Label/p00.label ... p14.label     one file per person: a header line, then one line per image
        Image/p00/left/1.jpg ...          each eye cropped to 36×60 (height × width), grayscale
        Image/p00/right/1.jpg ...

A label file is text in whitespace-separated columns, named by its first line (GazeHub's preprocessed
MPIIFaceGaze: ``Face Left Right Origin WhichEye 3DGaze 3DHead 2DGaze 2DHead Rmat Smat GazeOrigin``).
Three columns are used: ``Left`` and ``Right``, the eye images (paths inside ``Image/``), and ``2DGaze``,
the gaze as ``x,y``.

- **Input**: the left and the right eye side by side, 1×36×120 (each eye resized to 36×60 if it is not).
- **Class**: x and y are each scaled to -1..1 by their smallest and largest value over all the label
  files, so 0 is the middle of the field of view; the quadrant of (x, y) is the class, numbered as the
  course does: 0 "up-left" (x < 0, y > 0), 1 "up-right", 2 "down-right", 3 "down-left" (``GAZE_CLASSES``;
  "left" means x below the middle of its range, "up" y above it). A gaze exactly on an axis has no
  quadrant and is left out.
- **Split by person**, as the document: train p00-p08, validation p09-p11, test p12-p14. A cnnedu
  dataset has a train and a test split, so the validation people are left out (a run's validation share
  holds out training images instead). A folder without any of p12-p14 is split 80/20 by image, with a
  warning: the same people are then in both splits and the test accuracy is optimistic.

Only the images that are kept (``n_train``, ``n_test``) are read: a quick run on 2,000 of the 27,000
training pairs reads 2,000 pairs. Every image goes through ``cnnedu.vision.images`` (``folder.read_image``):
safe decoding, size caps, no hang on a FIFO among the files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cnnedu.budgets import MAX_IMAGES, MB
from cnnedu.data.dataset import Dataset, Progress, subsample
from cnnedu.data.gaze import EYE_H, EYE_W, GAZE_CLASSES, quadrant
from cnnedu.errors import DataError

TRAIN_PEOPLE = tuple(f"p{i:02d}" for i in range(9))
VALIDATION_PEOPLE = ("p09", "p10", "p11")
TEST_PEOPLE = ("p12", "p13", "p14")
COLUMNS = ("Left", "Right", "2DGaze")
MAX_LABEL_BYTES = 32 * MB  # one label file (MPIIFaceGaze's are under 1 MB each)
_LAYOUT_FIX = ("Give the folder that holds Image/ and Label/ (seed 003: datasets/MPIIFaceGaze), with one "
               "Label/pNN.label file per person.")

_CACHE: dict[tuple, Dataset] = {}
_CACHE_SIZE = 4


@dataclass
class _Rows:
    """The usable lines of all label files, one entry per image pair."""

    person: list[str]
    left: list[str]  # as written: paths inside Image/
    right: list[str]
    gaze: np.ndarray  # float64 [n, 2]: x, y as written


def _child(root: Path, name: str) -> Path | None:
    """``root/name``, matching the name in any case (Image, image, IMAGE); None when there is none."""
    exact = root / name
    if exact.is_dir():
        return exact
    for p in root.iterdir() if root.is_dir() else ():
        if p.is_dir() and p.name.lower() == name.lower():
            return p
    return None


def is_gaze_folder(path: str | Path | None) -> bool:
    """True for a folder in MPIIFaceGaze's layout: a ``Label/`` folder beside ``Image/`` (or holding
    .label files). A folder of class sub-folders is not one."""
    if path is None or not str(path).strip():
        return False
    root = Path(path).expanduser()
    try:
        label = _child(root, "Label")
        return label is not None and (_child(root, "Image") is not None or any(label.glob("*.label")))
    except OSError:
        return False


def _column_indices(header: list[str], file: Path) -> list[int]:
    lower = [name.lower() for name in header]
    missing = [name for name in COLUMNS if name.lower() not in lower]
    if missing:
        shown = " ".join(header[:14]) or "nothing"
        raise DataError(f"the label file {file.name} has no column {', '.join(missing)} in its first line "
                        f"(it names: {shown})",
                        "the first line must name the columns, as in MPIIFaceGaze's: Face Left Right Origin "
                        "WhichEye 3DGaze 3DHead 2DGaze ...")
    return [lower.index(name.lower()) for name in COLUMNS]


def _read_labels(label_dir: Path, problems: list[str]) -> _Rows:
    """Every usable line of every ``Label/*.label``; lines that cannot be used are noted in ``problems``."""
    from cnnedu import userinput

    files = sorted(p for p in label_dir.glob("*.label") if not p.name.startswith("."))
    if not files:
        raise DataError(f"{label_dir} holds no .label files", _LAYOUT_FIX)
    rows = _Rows([], [], [], np.zeros((0, 2)))
    gaze: list[tuple[float, float]] = []
    for file in files:
        text = userinput.read_text_file(file, "label file", DataError, max_bytes=MAX_LABEL_BYTES)
        lines = text.splitlines()
        cols = _column_indices(lines[0].split() if lines else [], file)
        for number, line in enumerate(lines[1:], start=2):
            fields = line.split()
            if not fields:
                continue
            if len(fields) <= max(cols):
                problems.append(f"{file.name} line {number}: {len(fields)} columns, the header names more")
                continue
            left, right, xy = (fields[i] for i in cols)
            try:
                x, y = (float(v) for v in xy.split(","))
                if not (math.isfinite(x) and math.isfinite(y)):
                    raise ValueError
            except ValueError:
                problems.append(f"{file.name} line {number}: 2DGaze {xy[:30]!r} is not two numbers 'x,y'")
                continue
            rows.person.append(file.stem)
            rows.left.append(left)
            rows.right.append(right)
            gaze.append((x, y))
            if len(gaze) > MAX_IMAGES:
                raise DataError(f"the label files list over {MAX_IMAGES:,} images; cnnedu reads at most that many",
                                "use a smaller folder")
    rows.gaze = np.array(gaze, dtype=np.float64).reshape(-1, 2)
    return rows


def gaze_labels(gaze: np.ndarray) -> np.ndarray:
    """The course's classes of gazes ``[n, 2]`` (x, y): each scaled to -1..1 by its smallest and largest
    value, then the quadrant (``gaze.quadrant``); -1 for a gaze on an axis."""
    low, high = gaze.min(axis=0), gaze.max(axis=0)
    if np.any(high <= low):
        axis = "x" if high[0] <= low[0] else "y"
        raise DataError(f"every gaze in the label files has the same {axis}, so there are no quadrants",
                        "check that the 2DGaze column holds each image's gaze")
    scaled = -1.0 + 2.0 * (gaze - low) / (high - low)
    return quadrant(scaled[:, 0], scaled[:, 1])


def _split(rows: _Rows, labels: np.ndarray, seed: int,
           notes: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Row indices of the train and test images: by person as the document does, else 80/20 by image."""
    from cnnedu.data.stats import split_validation

    person = np.array(rows.person)
    usable = (labels >= 0) & ~np.isin(person, VALIDATION_PEOPLE)
    test = usable & np.isin(person, TEST_PEOPLE)
    train = usable & ~test
    held = sorted(set(person[np.isin(person, VALIDATION_PEOPLE)]))
    if held:
        notes.append(f"left out the document's validation people {', '.join(held)} (the Train page's "
                     "validation share holds out training images instead)")
    if not test.any():
        idx = torch.from_numpy(np.flatnonzero(usable))
        y = torch.from_numpy(labels[usable].astype(np.int64))
        train_i, _, test_i, _ = split_validation(idx, y, 0.2, seed)
        if len(test_i) == 0:
            raise DataError(f"the folder has too few usable images to keep some for testing ({len(idx)})",
                            "add more images, or the document's test people p12-p14")
        notes.append(f"none of the document's test people ({', '.join(TEST_PEOPLE)}) is in the folder: split "
                     "80/20 by image, so the same people are in training and test (an optimistic test accuracy)")
        return train_i, test_i
    if not train.any():
        raise DataError("the folder has no training people: the document trains on p00-p08",
                        "add Label/p00.label ... with their images")
    return torch.from_numpy(np.flatnonzero(train)), torch.from_numpy(np.flatnonzero(test))


def _inside(image_dir: Path, rel: str) -> Path:
    """``Image/rel``, refused (a DataError) when it leads out of ``Image/`` (``../``, an absolute path, a link)."""
    path = (image_dir / rel).resolve()
    if not path.is_relative_to(image_dir):
        raise DataError(f"{rel[:60]} is outside Image/")
    return path


def _read_pairs(rows: _Rows, idx: torch.Tensor, labels: np.ndarray, image_dir: Path,
                progress: Progress | None, bad: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The eye pairs of rows ``idx`` as uint8 [n, 1, 36, 120] and their labels; unreadable ones skipped."""
    from cnnedu.data.folder import read_image

    image_dir = image_dir.resolve()

    x = torch.empty(len(idx), 1, EYE_H, 2 * EYE_W, dtype=torch.uint8)
    y = torch.empty(len(idx), dtype=torch.int64)
    n = 0
    for i, row in enumerate(idx.tolist()):
        if progress and i % 100 == 0:
            progress(i / max(1, len(idx)), f"reading eye images {i}/{len(idx)}")
        try:
            x[n, :, :, :EYE_W] = read_image(_inside(image_dir, rows.left[row]), (1, EYE_H, EYE_W))
            x[n, :, :, EYE_W:] = read_image(_inside(image_dir, rows.right[row]), (1, EYE_H, EYE_W))
        except DataError as err:
            bad.append(f"{rows.person[row]}: {err.message.rstrip('.')}")
            continue
        y[n] = int(labels[row])
        n += 1
    return x[:n].clone(), y[:n].clone()


def _root(path: str | Path | None) -> tuple[Path, Path, Path]:
    """The folder (inside the allowed folders), its Image/ and its Label/; a DataError says what is missing."""
    from cnnedu.paths import allowed_folder

    if path is None or not str(path).strip():
        raise DataError("reading an MPIIFaceGaze folder needs its path", _LAYOUT_FIX)
    root = allowed_folder(path)
    if not root.exists():
        raise DataError(f"the folder {root} does not exist", _LAYOUT_FIX)
    if not root.is_dir():
        raise DataError(f"{root} is a file, not a folder", _LAYOUT_FIX)
    image, label = _child(root, "Image"), _child(root, "Label")
    if image is None or label is None:
        missing = " and ".join(name for name, p in (("Image/", image), ("Label/", label)) if p is None)
        raise DataError(f"{root} has no {missing} folder: an MPIIFaceGaze folder holds Image/ and Label/",
                        _LAYOUT_FIX)
    return root, image, label


def _signature(label_dir: Path) -> tuple:
    """The cache key's view of the folder: names, sizes and times of the label files (not of the 90,000
    images: replacing an image without touching Label/ shows after a restart)."""
    return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(label_dir.glob("*.label")))


def load_gaze_folder(path: str | Path | None, *, seed: int = 0, n_train: int | None = None,
                     n_test: int | None = None, progress: Progress | None = None) -> Dataset:
    """Read an MPIIFaceGaze folder (``Image/`` + ``Label/``) as 1×36×120 eye pairs in the 4 gaze quadrants
    of ``GAZE_CLASSES``, split by person; see the module's docstring. ``n_train``/``n_test`` keep a random
    subset (the same for the same seed) and only those images are read."""
    root, image_dir, label_dir = _root(path)
    key = (str(root), seed, n_train, n_test, _signature(label_dir))
    if key in _CACHE:
        hit = _CACHE[key]
        return Dataset(hit.name, list(hit.classes), hit.source, hit.train_x, hit.train_y, hit.test_x,
                       hit.test_y, list(hit.warnings))
    problems: list[str] = []
    rows = _read_labels(label_dir, problems)
    if len(rows.gaze) == 0:
        raise DataError(f"the label files in {label_dir} list no usable images"
                        + (f" ({problems[0]})" if problems else ""), _LAYOUT_FIX)
    labels = gaze_labels(rows.gaze)
    notes: list[str] = []
    if problems:
        notes.append(f"skipped {len(problems)} label line(s): " + "; ".join(problems[:3])
                     + ("; ..." if len(problems) > 3 else ""))
    if (labels < 0).any():
        notes.append(f"left out {int((labels < 0).sum())} image(s) whose gaze lies on an axis (no quadrant)")
    train_i, test_i = _split(rows, labels, seed, notes)
    train_i, _ = subsample(train_i, torch.from_numpy(labels[train_i.numpy()]), n_train, seed, "train", notes)
    test_i, _ = subsample(test_i, torch.from_numpy(labels[test_i.numpy()]), n_test, seed, "test", notes)
    bad: list[str] = []
    train_x, train_y = _read_pairs(rows, train_i, labels, image_dir, progress, bad)
    test_x, test_y = _read_pairs(rows, test_i, labels, image_dir, progress, bad)
    if len(train_y) == 0 or len(test_y) == 0:
        which = "training" if len(train_y) == 0 else "test"
        raise DataError(f"none of the {which} eye images in {image_dir} could be read"
                        + (f" ({bad[0]})" if bad else ""), "check that Image/ holds the files Label/ names")
    if bad:
        notes.append(f"skipped {len(bad)} eye pair(s) that are not readable images: " + "; ".join(bad[:3])
                     + ("; ..." if len(bad) > 3 else ""))
    g = torch.Generator().manual_seed(int(seed))  # not ordered person by person
    order, test_order = torch.randperm(len(train_y), generator=g), torch.randperm(len(test_y), generator=g)
    ds = Dataset("folder", list(GAZE_CLASSES), str(root), train_x[order], train_y[order], test_x[test_order],
                 test_y[test_order], notes)
    if progress:
        progress(1.0, f"read {len(train_y) + len(test_y)} eye pairs")
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = ds
    return Dataset(ds.name, list(ds.classes), ds.source, ds.train_x, ds.train_y, ds.test_x, ds.test_y,
                   list(ds.warnings))
