"""Max pooling in NumPy (cs231n's signature: ``pool_param = {"pool_height", "pool_width", "stride"}``).

    H' = 1 + (H − ph) // s,   W' = 1 + (W − pw) // s       (floor, as PyTorch's ``F.max_pool2d``)
    out[n, c, i, j] = max over the window x[n, c, i·s : i·s + ph, j·s : j·s + pw]
"""

from __future__ import annotations

import numpy as np


def max_pool_forward(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, tuple]:
    """The formula above, with a loop over output positions; ``cache = (x, pool_param)``."""
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * s:i * s + ph, j * s:j * s + pw].max(axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """The gradient of a max is 1 for the largest value of its window and 0 for the others, so each
    ``dout[n, c, i, j]`` goes to the position of its window's maximum (windows that overlap add up).
    A tie (two equal maxima) has no derivative; this gives all of it to the first, as PyTorch does."""
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, _, _ = x.shape
    _, _, Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    n, c = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
    for i in range(Ho):
        for j in range(Wo):
            window = x[:, :, i * s:i * s + ph, j * s:j * s + pw].reshape(N, C, -1)
            u, v = np.unravel_index(window.argmax(axis=2), (ph, pw))
            dx[n, c, i * s + u, j * s + v] += dout[:, :, i, j]
    return dx
