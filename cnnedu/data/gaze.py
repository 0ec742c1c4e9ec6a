"""Synthetic eye gaze: two eyes side by side, 1×36×120, looking into one of four quadrants (seed 003).

Seed 003 classifies MPIIFaceGaze eye images by where the person looks: the 2D gaze ``(x, y)`` (x to the
right, y up, both scaled to -1..1 so that 0 is the centre of the field of view) falls into one of four
quadrants, numbered as the course's data loader numbers them::

    0 up-left (x < 0, y > 0)    1 up-right (x > 0, y > 0)    2 down-right (x > 0, y < 0)    3 down-left

Offline there is no MPIIFaceGaze, so cnnedu draws a stand-in. Each image is two 36×60 eye crops (left
crop, right crop) with skin, an almond-shaped opening between two eyelids, white sclera, a dark iris
with a darker pupil and a glint, an eyelash line and an eyebrow. A gaze ``(x, y)`` is drawn inside the
image's quadrant (anywhere in it: many images look close to the centre, where the quadrant is hard to
tell, as in the real data) and moves both irises by up to ~7 pixels sideways and ~3 up or down; looking
up also opens the upper lids a little. What makes it hard, as in the wild:

- *subjects*: every image belongs to one of a few people (``subjects``), each with their own eye size,
  opening, spacing, skin tone, iris size and darkness, and a personal offset of the iris at rest (the
  eye's "straight ahead" is not the image centre); the test set has other people than the training set;
- per image: a head shift of a few pixels, a scale of ±10 %, a small roll (one eye higher), the pupil's
  size, the lighting (brightness, a gradient across the face, contrast), blur and pixel noise.

So the answer is *where the iris sits inside each eye*, wherever the eyes are: a small CNN with
BatchNorm learns it clearly better than a fully connected net, as on the real data
(``benchmarks/bench_gaze.py``). Drawn with numpy, chunk by chunk like ``cnnedu.data.synthetic``.
"""

from __future__ import annotations

import numpy as np
import torch

from cnnedu.data.dataset import Dataset, Progress
from cnnedu.data.synthetic import CHUNK_PIXELS, draw_split
from cnnedu.errors import DataError

#: The class names, in label order (the course's numbering of the quadrants).
GAZE_CLASSES: list[str] = ["up-left", "up-right", "down-right", "down-left"]
#: The sign of (x, y) of each class's quadrant: x > 0 right, y > 0 up.
QUADRANT_SIGNS = np.array([[-1, 1], [1, 1], [1, -1], [-1, -1]])
GAZE_SHAPE = (1, 36, 120)
EYE_H, EYE_W = 36, 60  # one eye crop; the image is the left crop, then the right crop
DEFAULT_SUBJECTS = 15  # people per call (MPIIFaceGaze has 15)
DEFAULT_N_TRAIN = 10000
DEFAULT_N_TEST = 2000

Array = np.ndarray
f32 = np.float32


def quadrant(x: Array, y: Array) -> Array:
    """The class of each gaze ``(x, y)`` (x right, y up, 0 = the centre), -1 on an axis (x or y is 0)."""
    x, y = np.asarray(x), np.asarray(y)
    label = np.where(y > 0, np.where(x > 0, 1, 0), np.where(x > 0, 2, 3))
    return np.where((x == 0) | (y == 0), -1, label)


def _subjects(k: int, rng: np.random.Generator) -> dict[str, Array]:
    """What stays the same for one person (sizes in pixels at scale 1, intensities in 0..1)."""
    def u(low: float, high: float) -> Array:
        return low + (high - low) * rng.random(k)

    return {
        "eye_w": u(14.0, 19.0), "open_top": u(5.0, 8.0), "open_bot": u(3.0, 5.0), "spacing": u(-2.0, 2.0),
        "iris_r": u(5.5, 7.5), "skin": u(0.3, 0.8), "sclera": u(0.7, 0.95), "iris": u(0.12, 0.5),
        "brow": u(0.2, 0.6), "brow_h": u(6.0, 10.0), "lash": u(0.25, 0.6),
        "rest_x": rng.normal(0.0, 1.1, k), "rest_y": rng.normal(0.0, 0.7, k),  # the iris at "straight ahead"
    }


def _images(y: Array, subjects: int, rng: np.random.Generator) -> dict[str, Array]:
    """Every image's parameters, drawn once in a fixed order (that is what makes it deterministic)."""
    n = len(y)

    def u(low: float, high: float, size: int | tuple[int, int] = n) -> Array:
        return low + (high - low) * rng.random(size)

    person = _subjects(subjects, rng)
    who = rng.integers(subjects, size=n)
    p = {name: values[who] for name, values in person.items()}
    gaze = (1.0 - rng.random((n, 2))) * QUADRANT_SIGNS[y]  # anywhere in the quadrant, never on an axis
    scale = u(0.9, 1.1)
    p.update(gx=gaze[:, 0], gy=gaze[:, 1], scale=scale, shift_x=u(-3.5, 3.5), shift_y=u(-2.5, 2.5),
             roll=u(-2.0, 2.0), pupil=u(0.35, 0.5), open=u(0.8, 1.1), glint_x=u(-2.0, 2.0),
             jitter=rng.normal(0.0, 0.4, (n, 4)), bright=u(0.7, 1.15), grad_x=u(-0.3, 0.3),
             grad_y=u(-0.15, 0.15), contrast=u(0.6, 1.1), blur=u(0.0, 1.0), noise=u(0.01, 0.06))
    for name in ("eye_w", "open_bot", "spacing", "iris_r", "brow_h"):
        p[name] = p[name] * scale
    p["open_top"] = p["open_top"] * scale * p["open"] * (1.0 + 0.2 * p["gy"])  # looking up opens the lid
    p["iris_x"] = p["gx"] * 0.4 * p["eye_w"] + p["rest_x"]
    p["iris_y"] = -p["gy"] * 3.0 * scale + p["rest_y"]  # image rows grow downwards
    return p


def _bump(t: Array) -> Array:
    """1 at t = 0, falling to 0 at t = 1 and beyond: a cheap stand-in for exp(-t) (in place: ``t`` is spent)."""
    np.subtract(1.0, t, out=t)
    return np.maximum(t, 0.0, out=t)


def _edge(d: Array) -> Array:
    """``soft_edge(d, 1 pixel)`` in place: coverage 0..1 of a signed distance in pixels (``d`` is spent)."""
    np.subtract(0.5, d, out=d)
    return np.clip(d, 0.0, 1.0, out=d)


def _eye(p: dict[str, Array], e: int, xs: Array, ys: Array) -> Array:
    """One eye crop [m, 36, 60] in 0..1 (before lighting): ``e`` = 0 the left crop, 1 the right crop.

    Every full-size array is made once and changed in place where it can be: this is the hot loop."""
    def col(values: Array) -> Array:
        return values.astype(f32).reshape(-1, 1, 1)

    cx = col(EYE_W / 2 + (2 * e - 1) * p["spacing"] + p["shift_x"])
    cy = col(EYE_H / 2 + p["shift_y"] + (e - 0.5) * p["roll"])
    dx, dy = xs - cx, ys - cy  # [m, 1, 60] and [m, 36, 1]
    eye_w = col(p["eye_w"])
    arc = 1.0 - np.minimum((dx / eye_w) ** 2, 4.0)  # 1 at the centre, 0 at the eye's corners
    top, bottom = -col(p["open_top"]) * arc, col(p["open_bot"]) * arc  # the eyelids' edges
    below_top = dy - top  # [m, 36, 60]: rows below the upper lid's edge
    opening = _edge(np.maximum(-below_top, dy - bottom))
    iris_r = col(p["iris_r"])
    r = (dx - col(p["iris_x"] + p["jitter"][:, 2 * e])) ** 2 + (dy - col(p["iris_y"] + p["jitter"][:, 2 * e + 1])) ** 2
    r = np.sqrt(r, out=r)
    iris = _edge(r - iris_r)
    pupil = _edge(np.subtract(r, iris_r * col(p["pupil"]), out=r))
    glint = _bump(((dx - col(p["glint_x"])) ** 2 + (dy + 1.5) ** 2) * f32(0.5))
    sclera, iris_v = col(p["sclera"]), col(p["iris"])
    eye = (iris_v - sclera) * iris
    eye += sclera
    eye += (f32(0.05) - iris_v) * pupil
    eye += f32(0.5) * glint * iris
    brow_arc = np.maximum(1.0 - (dx / (1.25 * eye_w)) ** 2, 0.0)  # an arch, thinning at its ends
    brow_y = top.min(axis=2, keepdims=True) - col(p["brow_h"]) - 1.5 * brow_arc
    brow = _bump((dy - brow_y) ** 2 * f32(1 / 6)) * (col(p["brow"]) * np.minimum(4.0 * brow_arc, 1.0))
    open_part = arc > 0
    crease = _bump((below_top + 3.0) ** 2 * f32(1 / 4.5)) * (f32(0.15) * open_part)  # the lid's fold
    lash = _bump(below_top ** 2 * f32(1 / 1.5)) * (open_part * col(p["lash"]))
    skin = col(p["skin"]) * (1.0 - brow) * (1.0 - crease)
    eye -= skin
    eye *= opening
    eye += skin
    eye *= 1.0 - lash
    return eye


def _blur(img: Array) -> Array:
    """A [1, 2, 1] / 4 blur across columns, then rows (edges repeated), with in-place sums of views."""
    out = img
    for axis in (2, 1):
        src, out = out, 2 * out
        first, last = [slice(None)] * 3, [slice(None)] * 3
        first[axis], last[axis] = slice(1, None), slice(None, -1)
        out[tuple(first)] += src[tuple(last)]  # each pixel gets its left (upper) neighbour
        out[tuple(last)] += src[tuple(first)]  # and its right (lower) one
        edge0, edge1 = [slice(None)] * 3, [slice(None)] * 3
        edge0[axis], edge1[axis] = slice(0, 1), slice(-1, None)
        out[tuple(edge0)] += src[tuple(edge0)]
        out[tuple(edge1)] += src[tuple(edge1)]
    return out * f32(1 / 16)


def _light(img: Array, p: dict[str, Array], xs: Array, ys: Array, rng: np.random.Generator) -> Array:
    """Lighting (brightness, a gradient across the face, contrast), blur and noise, on [m, 36, 120]."""
    def col(values: Array) -> Array:
        return values.astype(f32).reshape(-1, 1, 1)

    img = img * col(p["bright"]) * (1.0 + col(p["grad_x"]) * (xs / EYE_W - 1.0)
                                    + col(p["grad_y"]) * (ys / (EYE_H / 2) - 1.0))
    for _ in range(2):
        img = img + col(p["blur"]) * (_blur(img) - img)
    img = 0.5 + col(p["contrast"]) * (img - 0.5)
    # uniform noise with the std ``noise``: a quarter of the time of Gaussian noise, and looks the same
    img += (rng.random(img.shape, dtype=f32) - f32(0.5)) * col(p["noise"] * np.sqrt(12.0))
    return np.clip(img, 0.0, 1.0)


def generate_gaze(n: int, *, seed: int = 0, subjects: int = DEFAULT_SUBJECTS) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` eye-pair images: ``(x uint8 [n, 1, 36, 120], y int64 [n])``, labels 0..3 in the order of
    ``GAZE_CLASSES``, classes balanced (counts differ by ≤ 1), ``subjects`` people.

    The same arguments give the same tensors, bit for bit (numpy's PCG64 generator).
    """
    if n < 0:
        raise DataError(f"cannot generate {n} images")
    if not 1 <= subjects <= 100_000:
        raise DataError(f"the number of subjects must be between 1 and 100000, got {subjects}")
    rng = np.random.Generator(np.random.PCG64(int(seed) % (2**63)))
    y = (np.arange(n) % 4)[rng.permutation(n)]
    p = _images(y, subjects, rng)
    xs_eye = (np.arange(EYE_W, dtype=f32) + 0.5).reshape(1, 1, EYE_W)
    ys = (np.arange(EYE_H, dtype=f32) + 0.5).reshape(1, EYE_H, 1)
    xs = (np.arange(2 * EYE_W, dtype=f32) + 0.5).reshape(1, 1, 2 * EYE_W)
    out = np.empty((n, 1, EYE_H, 2 * EYE_W), dtype=np.uint8)
    step = max(1, CHUNK_PIXELS // (EYE_H * 2 * EYE_W))
    for start in range(0, n, step):
        sl = slice(start, min(n, start + step))
        chunk = {name: values[sl] for name, values in p.items()}
        img = np.concatenate([_eye(chunk, 0, xs_eye, ys), _eye(chunk, 1, xs_eye, ys)], axis=2)
        out[sl, 0] = np.rint(_light(img, chunk, xs, ys, rng) * 255.0)
    return torch.from_numpy(out), torch.from_numpy(y.astype(np.int64))


def load_gaze_synthetic(*, seed: int = 0, n_train: int | None = None, n_test: int | None = None,
                        progress: Progress | None = None) -> Dataset:
    """The "gaze-synthetic" dataset: ``n_train`` (default 10000) and ``n_test`` (default 2000) images.

    Train and test come from two random streams of the same seed, with different people in each (the
    document's test split holds people p12-p14 that training never saw); changing ``n_train`` never
    changes the test set.
    """
    n_train = DEFAULT_N_TRAIN if n_train is None else int(n_train)
    n_test = DEFAULT_N_TEST if n_test is None else int(n_test)
    train_x, train_y, test_x, test_y = draw_split(lambda n, s: generate_gaze(n, seed=s), n_train, n_test,
                                                  int(seed), "eye", progress)
    return Dataset("gaze-synthetic", list(GAZE_CLASSES), "generated", train_x, train_y, test_x, test_y)
