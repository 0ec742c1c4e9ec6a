"""Pixels as a network sees them: the colour mode of a channel count, and normalisation.

A cnnedu network takes one gray channel ("L" in Pillow's words) or three colour channels ("RGB"), and it
was trained on normalised pixels ``x = (pixel / 255 - mean) / std`` per channel, with the training set's
mean and std in 0..1 units. These two facts are used when a model is described (its metadata), when an
uploaded image is prepared, and when a run's test images are fed again; this module is their one home.

    mode_for_channels(1)                                   # "L"
    normalize(uint8_images, mean=[0.286], std=[0.353])     # float32, same shape
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mode_for_channels(channels: int) -> str:
    """The Pillow mode of an image with ``channels`` channels: "L" for 1 (gray), "RGB" otherwise."""
    return "L" if channels == 1 else "RGB"


def normalize(pixels: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Pixels 0..255 ``[..., C, H, W]`` (uint8 or float) → ``(pixel / 255 - mean) / std`` per channel,
    float32 (the arithmetic is float32, as in training)."""
    x = np.asarray(pixels)
    c = x.shape[-3]
    m = np.asarray(mean, dtype=np.float32).reshape(c, 1, 1)
    s = np.asarray(std, dtype=np.float32).reshape(c, 1, 1)
    return np.ascontiguousarray((x.astype(np.float32) / np.float32(255.0) - m) / s, dtype=np.float32)
