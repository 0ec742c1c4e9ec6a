"""Drawing arrays as pictures: value ranges stretched to 0..255, tiles in a grid, images enlarged.

Every image here is a numpy ``uint8`` array, ``[H, W]`` gray or ``[H, W, 3]`` colour, ready for ``st.image``
or Pillow. Small images are enlarged with nearest neighbour (whole factors): a 28×28 digit or a 5×5
filter stays sharp squares instead of a blur. Tiles are separated by a thin blue-gray line so that a black
tile and the gap between tiles look different.

    grid = tile_grid([to_uint8(w) for w in filters], scale=4)
    big = enlarge_to(image, 160)          # longer side about 160 pixels
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

#: The colour of the lines between tiles (RGB): distinct from black, white and every gray.
SEPARATOR = (90, 110, 150)


def to_uint8(values: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Stretch ``values`` linearly so that ``lo`` → 0 and ``hi`` → 255 (defaults: their min and max).

    A constant array (a dead filter, a channel that never fires) becomes all 0, not a division by zero.
    """
    values = np.asarray(values, dtype=np.float64)
    lo = float(values.min()) if lo is None else lo
    hi = float(values.max()) if hi is None else hi
    if not math.isfinite(lo) or not math.isfinite(hi) or hi - lo < 1e-12:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.clip(np.rint((values - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)


def tile_grid(tiles: Sequence[np.ndarray], columns: int | None = None, padding: int = 1, scale: int = 1,
              separator: tuple[int, int, int] = SEPARATOR) -> np.ndarray:
    """Arrange equally sized uint8 tiles (``[h, w]`` gray or ``[h, w, 3]`` colour) in a grid.

    ``columns`` defaults to a near-square layout (like cs231n's ``visualize_grid``); ``padding`` is the
    gap between tiles and around them in tile pixels; ``scale`` enlarges everything by whole pixels
    (nearest neighbour: a 5×5 filter stays 25 sharp squares instead of a blur). Returns ``[H, W, 3]``.
    """
    if not tiles:
        raise ValueError("tile_grid needs at least one tile")
    rgb = [to_rgb(t) for t in tiles]
    h, w = rgb[0].shape[:2]
    n = len(rgb)
    cols = columns or math.ceil(math.sqrt(n))
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    grid = np.empty((rows * (h + padding) + padding, cols * (w + padding) + padding, 3), dtype=np.uint8)
    grid[:] = np.asarray(separator, dtype=np.uint8)
    for i, tile in enumerate(rgb):
        r, c = divmod(i, cols)
        y, x = padding + r * (h + padding), padding + c * (w + padding)
        grid[y:y + h, x:x + w] = tile
    return enlarge(grid, scale)


def enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    """Enlarge an image by a whole factor with nearest neighbour (pixels stay sharp squares)."""
    image = np.asarray(image)
    if scale <= 1:
        return image
    return image.repeat(scale, axis=0).repeat(scale, axis=1)


def scale_for(image: np.ndarray, target: int) -> int:
    """The whole factor that makes an image about ``target`` pixels wide (at least 1)."""
    return max(1, target // max(1, np.asarray(image).shape[1]))


def enlarge_to(image: Any, target: int = 160) -> np.ndarray:
    """Enlarge a small image (array or PIL image) by a whole factor so its longer side is about ``target``
    pixels: the browser would blur a 28×28 image stretched to 160 px; this keeps the pixels square."""
    a = np.asarray(image)
    return enlarge(a, max(1, target // max(1, a.shape[0], a.shape[1])))


def framed(tile: np.ndarray, colour: tuple[int, int, int], scale: int = 4, width: int = 2) -> np.ndarray:
    """A tile enlarged ``scale`` times with a coloured frame (green: right, red: wrong)."""
    big = enlarge(to_rgb(tile), scale)
    out = np.empty((big.shape[0] + 2 * width, big.shape[1] + 2 * width, 3), dtype=np.uint8)
    out[:] = np.asarray(colour, dtype=np.uint8)
    out[width:-width, width:-width] = big
    return out


def to_rgb(tile: np.ndarray) -> np.ndarray:
    """A gray ``[h, w]`` tile as ``[h, w, 3]``; a colour tile as it is."""
    return tile if tile.ndim == 3 else np.repeat(tile[:, :, None], 3, axis=2)


def chw_to_image(x_uint8: torch.Tensor | np.ndarray) -> np.ndarray:
    """One uint8 image ``[C, H, W]`` (C = 1 or 3) as ``[H, W]`` (gray) or ``[H, W, 3]`` for display."""
    a = x_uint8.numpy() if isinstance(x_uint8, torch.Tensor) else np.asarray(x_uint8)
    a = a.astype(np.uint8)
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
