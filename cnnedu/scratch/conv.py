"""Convolution in NumPy, twice: with loops that read like the formula, and with im2col (one matrix product).

Signatures follow cs231n (seed 003's Part 1 stops at fully-connected layers; its Part 2 builds the CNN in
PyTorch): ``conv_param = {"stride": s, "pad": p}``, x (N, C, H, W), w (F, C, HH, WW), b (F,), and

    H' = 1 + (H + 2p − HH) // s,   W' = 1 + (W + 2p − WW) // s
    out[n, f, i, j] = b[f] + Σ_{c, u, v} w[f, c, u, v] · x_pad[n, c, i·s + u, j·s + v]

which is PyTorch's ``F.conv2d`` (a cross-correlation: the kernel is not flipped).
"""

from __future__ import annotations

import numpy as np


def _out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    return 1 + (size + 2 * pad - kernel) // stride


def _pad(x: np.ndarray, pad: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


def conv_forward_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict) -> tuple[np.ndarray, tuple]:
    """The convolution formula above, with a loop over output positions; ``cache = (x, w, b, conv_param)``."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = _out_size(H, HH, stride, pad), _out_size(W, WW, stride, pad)
    xp = _pad(x, pad)
    out = np.zeros((N, F, Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            window = xp[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]  # (N, C, HH, WW)
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each output position used one window of x_pad and all of w, so, summed over positions (i, j):

        dw[f]        += Σ_n dout[n, f, i, j] · window[n]
        dx_pad[n, window] += Σ_f dout[n, f, i, j] · w[f]
        db[f]         = Σ_{n, i, j} dout[n, f, i, j]

    and dx is dx_pad without its border.
    """
    x, w, _, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    _, _, HH, WW = w.shape
    _, _, Ho, Wo = dout.shape
    xp = _pad(x, pad)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(Ho):
        for j in range(Wo):
            rows, cols = slice(i * stride, i * stride + HH), slice(j * stride, j * stride + WW)
            g = dout[:, :, i, j]  # (N, F)
            dw += np.tensordot(g, xp[:, :, rows, cols], axes=([0], [0]))
            dxp[:, :, rows, cols] += np.tensordot(g, w, axes=([1], [0]))
    H, W = x.shape[2], x.shape[3]
    return dxp[:, :, pad:pad + H, pad:pad + W], dw, dout.sum(axis=(0, 2, 3))


def im2col_indices(shape: tuple[int, ...], HH: int, WW: int, stride: int, pad: int) -> tuple[np.ndarray, ...]:
    """Index arrays (c, rows, cols) such that ``x_pad[:, c, rows, cols]`` has shape (N, C·HH·WW, H'·W'):
    column k holds the window under output position k, flattened in the order of ``w.reshape(F, -1)``."""
    _, C, H, W = shape
    Ho, Wo = _out_size(H, HH, stride, pad), _out_size(W, WW, stride, pad)
    c, u, v = np.meshgrid(np.arange(C), np.arange(HH), np.arange(WW), indexing="ij")
    i, j = np.meshgrid(np.arange(Ho), np.arange(Wo), indexing="ij")
    rows = u.reshape(-1, 1) + stride * i.reshape(1, -1)
    cols = v.reshape(-1, 1) + stride * j.reshape(1, -1)
    return c.reshape(-1, 1), rows, cols


def conv_forward_im2col(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict) -> tuple[np.ndarray, tuple]:
    """The same convolution as one matrix product: ``out = w.reshape(F, C·HH·WW) @ cols + b``, where
    ``cols`` (the im2col matrix) holds every window of x_pad as a column."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    idx = im2col_indices(x.shape, HH, WW, stride, pad)
    cols = _pad(x, pad)[:, idx[0], idx[1], idx[2]]  # (N, C·HH·WW, H'·W')
    out = np.einsum("fk,nkp->nfp", w.reshape(F, -1), cols) + b.reshape(1, F, 1)
    Ho, Wo = _out_size(H, HH, stride, pad), _out_size(W, WW, stride, pad)
    return out.reshape(N, F, Ho, Wo), (x, w, b, conv_param, cols, idx)


def conv_backward_im2col(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of the matrix product ``out = W̃ · cols``: ``dW̃ = Σ_n dout · colsᵀ``, ``dcols = W̃ᵀ · dout``;
    dcols goes back to x_pad with ``np.add.at`` (col2im: windows overlap, so their gradients add up)."""
    x, w, _, conv_param, cols, idx = cache
    pad = conv_param["pad"]
    N, F = dout.shape[0], w.shape[0]
    d = dout.reshape(N, F, -1)  # (N, F, H'·W')
    dw = np.einsum("nfp,nkp->fk", d, cols).reshape(w.shape)
    dcols = np.einsum("fk,nfp->nkp", w.reshape(F, -1), d)
    dxp = np.zeros((N, x.shape[1], x.shape[2] + 2 * pad, x.shape[3] + 2 * pad), dtype=x.dtype)
    np.add.at(dxp, (slice(None), idx[0], idx[1], idx[2]), dcols)
    H, W = x.shape[2], x.shape[3]
    return dxp[:, :, pad:pad + H, pad:pad + W], dw, d.sum(axis=(0, 2))
