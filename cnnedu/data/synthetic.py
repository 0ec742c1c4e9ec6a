"""Synthetic shapes: a dataset cnnedu draws itself — offline, any image size, the same for the same seed.

Each class is a shape (a ring, a cross, a horizontal bar, ...). Every image draws its shape at a random
place, size, angle and brightness, over a background with its own brightness, a faint gradient and
pixel noise; colour images get a random tint for the shape and another for the background. So the
network has to learn *shape*, not "where are the bright pixels" — a small CNN does it in seconds, a
linear model does clearly worse.

How it is drawn (with numpy), without a per-pixel Python loop: every shape is described by a *signed distance*
``d(u, v)`` — negative inside the shape, positive outside, in the shape's own coordinates ``(u, v)``
(the pixel grid shifted to the shape's centre, rotated by its angle, divided by its size). One tensor
expression computes ``d`` for a whole batch of images at once, and ``clamp(0.5 - d / pixel, 0, 1)``
turns it into a coverage mask with a one-pixel soft (anti-aliased) edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from cnnedu.data.dataset import Dataset, Progress, check_input_shape
from cnnedu.errors import DataError

#: The class names, in label order. ``num_classes=k`` uses the first ``k``.
CLASS_NAMES: list[str] = [
    "ring", "cross", "horizontal bar", "vertical bar", "triangle",
    "checkerboard", "blob pair", "square", "diagonal bar", "disk",
]

DEFAULT_SHAPE = (1, 28, 28)
DEFAULT_N_TRAIN = 20000
DEFAULT_N_TEST = 1000
CHUNK_PIXELS = 250_000  # pixels (N×H×W) drawn per step: bounds the memory of the temporaries

Array = np.ndarray


def soft_edge(d: Array, pixel: Array) -> Array:
    """Signed distance → coverage in 0..1 with an edge about one pixel wide (anti-aliasing)."""
    return np.clip(0.5 - d / pixel, 0.0, 1.0)


def _bar(u: Array, v: Array, half_len: Array, half_width: Array) -> Array:
    """Signed distance (box approximation) to a bar along u."""
    return np.maximum(np.abs(u) - half_len, np.abs(v) - half_width)


def _coverage(k: int, u: Array, v: Array, p: Array, q: Array, pixel: Array) -> Array:
    """Coverage mask [n, H, W] of shape class ``k``; ``p``, ``q`` in 0..1 [n, 1, 1] vary its proportions."""
    name = CLASS_NAMES[k]
    if name == "ring":
        r = np.sqrt(u * u + v * v)
        return soft_edge(np.abs(r - 0.72) - (0.10 + 0.08 * p), pixel)
    if name == "disk":
        return soft_edge(np.sqrt(u * u + v * v) - (0.6 + 0.25 * p), pixel)
    if name == "cross":
        half_width = 0.13 + 0.08 * p
        half_len = 0.8 + 0.15 * q
        return soft_edge(np.minimum(_bar(u, v, half_len, half_width), _bar(v, u, half_len, half_width)), pixel)
    if name in ("horizontal bar", "vertical bar", "diagonal bar"):  # the angle makes the difference
        return soft_edge(_bar(u, v, 0.8 + 0.2 * q, 0.12 + 0.1 * p), pixel)
    if name == "triangle":  # equilateral: inside all three edges, whose outward normals are 120° apart
        inradius = 0.45 + 0.1 * p
        edges = [u * np.float32(math.cos(a)) + v * np.float32(math.sin(a))
                 for a in (math.pi / 2, math.pi * 7 / 6, math.pi * 11 / 6)]
        return soft_edge(np.maximum(np.maximum(edges[0], edges[1]), edges[2]) - inradius, pixel)
    if name == "square":  # outline
        edge = np.maximum(np.abs(u), np.abs(v))
        return soft_edge(np.abs(edge - 0.72) - (0.09 + 0.07 * p), pixel)
    if name == "checkerboard":
        window = soft_edge(np.maximum(np.abs(u), np.abs(v)) - 0.85, pixel)
        freq = np.float32(math.pi / 0.85) * (1.6 + 0.8 * p)  # 3.2 to 4.8 cells across
        return window * np.clip(0.5 + 3.0 * np.sin(freq * u) * np.sin(freq * v), 0.0, 1.0)
    if name == "blob pair":
        gap = 0.4 + 0.25 * q
        sigma2 = 2 * (0.17 + 0.08 * p) ** 2
        vv = v * v
        # exponents capped at 30: exp(-30) is 0 for the eye, and no slow denormal floats
        blobs = np.maximum(np.exp(-np.minimum(((u - gap) ** 2 + vv) / sigma2, 30.0)),
                           np.exp(-np.minimum(((u + gap) ** 2 + vv) / sigma2, 30.0)))
        return np.clip(blobs * 1.3, 0.0, 1.0)
    raise AssertionError(name)


def _angles(labels: Array, rng: np.random.Generator) -> Array:
    """Each class's angle: free for shapes that look alike at any angle, a narrow range where the angle
    *is* the class (horizontal vs vertical vs diagonal bar) or would turn it into another (+ into ×)."""
    n = len(labels)
    free = rng.random(n) * 2 * math.pi
    jitter = (rng.random(n) * 2 - 1) * math.radians(15)
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    base = np.zeros(n)
    spread = np.zeros(n)  # how far the angle may move from ``base``: 0 = free (use ``free``)
    for k, name in enumerate(CLASS_NAMES):
        of_k = labels == k
        if name in ("cross", "horizontal bar"):
            spread[of_k] = 1.0
        elif name == "vertical bar":
            base[of_k], spread[of_k] = math.pi / 2, 1.0
        elif name == "diagonal bar":  # / or \
            base[of_k], spread[of_k] = sign[of_k] * math.pi / 4, 0.67
    return np.where(spread > 0, base + jitter * spread, free)


def generate(n: int, input_shape: tuple[int, int, int] = DEFAULT_SHAPE, num_classes: int = 10,
             seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` images: ``(x uint8 [n, C, H, W], y int64 [n])``, classes balanced (counts differ by ≤ 1).

    The same arguments give the same tensors, bit for bit, on any machine (numpy's PCG64 generator).
    Drawn with numpy, one thread: it stays fast on a busy machine, where torch's thread pool can stall.
    """
    c, h, w = check_input_shape(input_shape)
    if not 1 <= num_classes <= len(CLASS_NAMES):
        raise DataError(f"the synthetic dataset has 1 to {len(CLASS_NAMES)} classes, not {num_classes}",
                        f"set num_classes between 1 and {len(CLASS_NAMES)}")
    if n < 0:
        raise DataError(f"cannot generate {n} images")
    rng = np.random.Generator(np.random.PCG64(int(seed) % (2**63)))
    draws = _draw_parameters(n, (c, h, w), num_classes, rng)
    short = min(h, w)
    xs = ((np.arange(w) + 0.5) / (short / 2) - draws.half_w).astype(np.float32).reshape(1, 1, w)  # pixel centres
    ys = ((np.arange(h) + 0.5) / (short / 2) - draws.half_h).astype(np.float32).reshape(1, h, 1)
    out = np.empty((n, c, h, w), dtype=np.uint8)
    step = max(1, CHUNK_PIXELS // (h * w))
    for start in range(0, n, step):
        sl = slice(start, min(n, start + step))
        out[sl] = _draw_chunk(draws, sl, xs, ys, num_classes, rng)
    return torch.from_numpy(out), torch.from_numpy(draws.y.astype(np.int64))


@dataclass
class _Draws:
    """The per-image parameters of ``generate``, one value (or row) per image."""

    y: Array  # labels
    half_w: float  # the image spans [-half_w, half_w] × [-half_h, half_h]
    half_h: float
    size: Array  # shape radius, in units of half the short side
    cx: Array
    cy: Array
    angle: Array
    p: Array
    q: Array
    fg: Array  # shape brightness
    bg: Array  # background brightness
    grad: Array  # background gradient (x, y) [n, 2]
    noise: Array
    tint_fg: Array  # [n, C]
    tint_bg: Array


def _draw_parameters(n: int, shape: tuple[int, int, int], num_classes: int, rng: np.random.Generator) -> _Draws:
    """Every image's parameters, drawn once, in a fixed order (that is what makes it deterministic)."""
    c, h, w = shape
    y = (np.arange(n) % num_classes)[rng.permutation(n)]
    short = min(h, w)
    half_w, half_h = w / short, h / short  # the image spans [-half_w, half_w] × [-half_h, half_h]
    size = 0.42 + 0.38 * rng.random(n)  # shape radius, in units of half the short side
    cx = (rng.random(n) * 2 - 1) * np.clip(half_w - size, 0, None) * 0.9
    cy = (rng.random(n) * 2 - 1) * np.clip(half_h - size, 0, None) * 0.9
    angle = _angles(y, rng)
    p, q = rng.random(n), rng.random(n)
    fg = 0.6 + 0.4 * rng.random(n)  # shape brightness
    bg = 0.35 * rng.random(n)  # background brightness
    grad = (rng.random((n, 2)) * 2 - 1) * 0.08  # background gradient (x, y)
    noise = 0.02 + 0.1 * rng.random(n)
    if c > 1:  # a random colour for the shape and another for the background, brightest channel = 1
        tint_fg = 0.15 + 0.85 * rng.random((n, c))
        tint_bg = 0.15 + 0.85 * rng.random((n, c))
        tint_fg /= tint_fg.max(1, keepdims=True)
        tint_bg /= tint_bg.max(1, keepdims=True)
    else:
        tint_fg = tint_bg = np.ones((n, 1))
    return _Draws(y, half_w, half_h, size, cx, cy, angle, p, q, fg, bg, grad, noise, tint_fg, tint_bg)


def _draw_chunk(d: _Draws, sl: slice, xs: Array, ys: Array, num_classes: int,
                rng: np.random.Generator) -> Array:
    """The images ``sl`` as uint8 [m, C, H, W]: shape masks over the backgrounds, then the pixel noise
    (drawn from ``rng`` here, chunk by chunk)."""
    f32 = np.float32
    m, h, w, c = sl.stop - sl.start, ys.shape[1], xs.shape[2], d.tint_fg.shape[1]
    short = min(h, w)

    def col(values: Array) -> Array:
        return values[sl].astype(f32).reshape(m, 1, 1)  # one value per image, broadcast over pixels

    dx, dy = xs - col(d.cx), ys - col(d.cy)
    cos, sin, s = col(np.cos(d.angle)), col(np.sin(d.angle)), col(d.size)
    u = (cos * dx + sin * dy) / s
    v = (cos * dy - sin * dx) / s
    pixel = f32(2.0 / short) / s  # one pixel, in the shape's units
    mask = np.empty((m, h, w), dtype=f32)
    labels = d.y[sl]
    for k in range(num_classes):
        idx = np.flatnonzero(labels == k)
        if len(idx):
            mask[idx] = _coverage(k, u[idx], v[idx], col(d.p)[idx], col(d.q)[idx], pixel[idx])
    background = col(d.bg) + col(d.grad[:, 0]) * xs + col(d.grad[:, 1]) * ys  # [m, H, W]
    fg_c = (d.fg[sl, None] * d.tint_fg[sl]).astype(f32).reshape(m, c, 1, 1)
    bg_c = background[:, None] * d.tint_bg[sl].astype(f32).reshape(m, c, 1, 1)  # [m, C, H, W]
    img = bg_c + (fg_c - bg_c) * mask[:, None]
    img += rng.standard_normal((m, c, h, w), dtype=f32) * d.noise[sl].astype(f32).reshape(m, 1, 1, 1)
    np.clip(img, 0.0, 1.0, out=img)
    return np.rint(img * 255.0)


def draw_split(draw, n_train: int, n_test: int, seed: int, what: str, progress: Progress | None = None):
    """(train_x, train_y, test_x, test_y) from ``draw(n, seed)``: train and test from two different random
    streams of the same seed (2·seed and 2·seed + 1), so changing ``n_train`` never changes the test set."""
    if n_train < 1 or n_test < 1:
        raise DataError(f"the {what} dataset needs at least 1 train and 1 test image "
                        f"(asked for {n_train} and {n_test})")
    if progress:
        progress(0.0, f"drawing {n_train} + {n_test} {what} images")
    train_x, train_y = draw(n_train, 2 * seed)
    if progress:
        progress(n_train / (n_train + n_test), "drawing the test images")
    test_x, test_y = draw(n_test, 2 * seed + 1)
    if progress:
        progress(1.0, f"{what} images ready")
    return train_x, train_y, test_x, test_y


def load_synthetic(*, input_shape: tuple[int, int, int] | None = None, num_classes: int | None = None,
                   seed: int = 0, n_train: int | None = None, n_test: int | None = None,
                   progress: Progress | None = None) -> Dataset:
    """The synthetic dataset: ``n_train`` (default 20000) and ``n_test`` (default 1000) images.

    Train and test images come from two different random streams of the same seed, so changing
    ``n_train`` never changes the test set.
    """
    shape = check_input_shape(input_shape or DEFAULT_SHAPE)
    k = len(CLASS_NAMES) if num_classes is None else int(num_classes)
    n_train = DEFAULT_N_TRAIN if n_train is None else int(n_train)
    n_test = DEFAULT_N_TEST if n_test is None else int(n_test)
    train_x, train_y, test_x, test_y = draw_split(lambda n, s: generate(n, shape, k, seed=s), n_train, n_test,
                                                  int(seed), "synthetic", progress)
    return Dataset("synthetic", CLASS_NAMES[:k], "generated", train_x, train_y, test_x, test_y)
