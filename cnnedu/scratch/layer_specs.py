"""Every scratch layer with what a gradient check needs: a small random input, its NumPy forward and
backward, and the PyTorch op that computes the same function (whose autograd gives the reference gradient).

``make(rng, batch, size)`` returns ``(inputs, constants)``: inputs get gradients (x and the parameters),
constants do not (labels, a dropout mask). ``forward(inputs, constants) -> (out, cache)`` and
``backward(dout, cache) -> {name: gradient}`` wrap the layer's own functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from cnnedu import budgets
from cnnedu.scratch.batchnorm import batchnorm_backward, batchnorm_forward
from cnnedu.scratch.conv import (
    conv_backward_im2col,
    conv_backward_naive,
    conv_forward_im2col,
    conv_forward_naive,
)
from cnnedu.scratch.dropout import dropout_backward, dropout_forward, dropout_mask
from cnnedu.scratch.layers import fc_backward, fc_forward, relu_backward, relu_forward, softmax_loss
from cnnedu.scratch.pool import max_pool_backward, max_pool_forward

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class LayerSpec:
    description: str
    make: Callable[[np.random.Generator, int, int], tuple[Arrays, Arrays]]
    forward: Callable[[Arrays, Arrays], tuple[np.ndarray, object]]
    backward: Callable[[np.ndarray, object], Arrays]
    torch_op: Callable[..., torch.Tensor]
    scalar: bool = False  # the layer returns a loss (no upstream gradient)
    kinks: bool = False  # not differentiable everywhere (ReLU at 0, max-pool ties)
    min_batch: int = 1
    default_batch: int = 2
    max_size: int = budgets.SCRATCH_MAX_SIZE


def _named(names: str, grads: tuple) -> Arrays:
    return dict(zip(names.split(), grads))


# ---------------------------------------------------------------------------------- affine, relu, loss

AFFINE_OUT = 3


def _affine() -> LayerSpec:
    def make(rng, batch, size):
        return {"x": rng.standard_normal((batch, size)), "w": rng.standard_normal((size, AFFINE_OUT)),
                "b": rng.standard_normal(AFFINE_OUT)}, {}

    return LayerSpec(
        f"fully-connected: x (batch, size) · w (size, {AFFINE_OUT}) + b — torch F.linear(x, wᵀ, b)", make,
        lambda i, c: fc_forward(i["x"], i["w"], i["b"]),
        lambda d, cache: _named("x w b", fc_backward(d, cache)),
        lambda x, w, b: F.linear(x.reshape(x.shape[0], -1), w.T, b))


def _relu() -> LayerSpec:
    return LayerSpec(
        "ReLU: max(0, x) on x (batch, size) — torch F.relu",
        lambda rng, batch, size: ({"x": rng.standard_normal((batch, size))}, {}),
        lambda i, c: relu_forward(i["x"]), lambda d, cache: {"x": relu_backward(d, cache)},
        lambda x: F.relu(x), kinks=True)


def _softmax_loss() -> LayerSpec:
    def make(rng, batch, size):
        return {"x": rng.standard_normal((batch, size))}, {"y": rng.integers(0, size, batch)}

    return LayerSpec(
        "softmax cross-entropy of scores x (batch, size classes) — torch F.cross_entropy (mean)", make,
        lambda i, c: softmax_loss(i["x"], c["y"]), lambda _, dx: {"x": dx},
        lambda x, y: F.cross_entropy(x, y), scalar=True)


# ------------------------------------------------------------------------------------- conv and pool

CONV = {"stride": 1, "pad": 1}


#: The naive convolution loops over output positions in Python, and the numerical gradient runs it twice
#: per input value: cost ∝ batch·size⁴ (size 8, batch 8: ~3 s; size 16 would be 16 times that).
NAIVE_CONV_MAX_SIZE = 8


def _conv(forward, backward, how: str, max_size: int = budgets.SCRATCH_MAX_SIZE) -> LayerSpec:
    def make(rng, batch, size):
        return {"x": rng.standard_normal((batch, 2, size, size)), "w": rng.standard_normal((3, 2, 3, 3)),
                "b": rng.standard_normal(3)}, {}

    return LayerSpec(
        f"convolution ({how}): x (batch, 2, size, size), 3 filters 3×3, stride 1, pad 1 — torch F.conv2d", make,
        lambda i, c: forward(i["x"], i["w"], i["b"], CONV), lambda d, cache: _named("x w b", backward(d, cache)),
        lambda x, w, b: F.conv2d(x, w, b, stride=CONV["stride"], padding=CONV["pad"]), max_size=max_size)


def _pool_param(size: int) -> dict:
    k = 2 if size >= 2 else 1
    return {"pool_height": k, "pool_width": k, "stride": k}


def _max_pool() -> LayerSpec:
    def make(rng, batch, size):
        return {"x": rng.standard_normal((batch, 2, size, size))}, {}

    def op(x):
        k = _pool_param(x.shape[-1])
        return F.max_pool2d(x, (k["pool_height"], k["pool_width"]), k["stride"])

    return LayerSpec(
        "max pooling 2×2, stride 2 on x (batch, 2, size, size) — torch F.max_pool2d", make,
        lambda i, c: max_pool_forward(i["x"], _pool_param(i["x"].shape[-1])),
        lambda d, cache: {"x": max_pool_backward(d, cache)}, op, kinks=True)


# ------------------------------------------------------------------------------- batchnorm, dropout

BN_EPS = 1e-5
KEEP = 0.5


def _batchnorm() -> LayerSpec:
    """At least 3 examples: with 2, x̂ = ±1 whatever x is (each example is one standard deviation from
    their mean), so ∂out/∂x is 0 up to eps and round-off, and a check would compare round-off noise."""
    def make(rng, batch, size):
        return {"x": 3 * rng.standard_normal((batch, size)) + 1, "gamma": rng.standard_normal(size),
                "beta": rng.standard_normal(size)}, {}

    return LayerSpec(
        "batch normalization, train mode, on x (batch, size) — torch F.batch_norm(training=True)", make,
        lambda i, c: batchnorm_forward(i["x"], i["gamma"], i["beta"], {"mode": "train", "eps": BN_EPS}),
        lambda d, cache: _named("x gamma beta", batchnorm_backward(d, cache)),
        lambda x, gamma, beta: F.batch_norm(x, None, None, gamma, beta, training=True, eps=BN_EPS),
        min_batch=3, default_batch=4)


def _dropout() -> LayerSpec:
    def make(rng, batch, size):
        seed = int(rng.integers(0, 2**31))
        return {"x": rng.standard_normal((batch, size))}, {"seed": seed}

    def op(x, seed):  # torch draws its own masks: apply the scratch layer's mask (same seed)
        return x * torch.from_numpy(dropout_mask(tuple(x.shape), KEEP, int(seed)))

    return LayerSpec(
        f"inverted dropout, keep p = {KEEP}, train mode, on x (batch, size), the mask fixed by a seed — "
        "torch: x · the same mask", make,
        lambda i, c: dropout_forward(i["x"], {"mode": "train", "p": KEEP, "seed": int(c["seed"])}),
        lambda d, cache: {"x": dropout_backward(d, cache)}, op)


LAYER_SPECS: dict[str, LayerSpec] = {
    "affine": _affine(), "relu": _relu(), "softmax_loss": _softmax_loss(),
    "conv_naive": _conv(conv_forward_naive, conv_backward_naive, "loops", NAIVE_CONV_MAX_SIZE),
    "conv_im2col": _conv(conv_forward_im2col, conv_backward_im2col, "im2col"),
    "max_pool": _max_pool(), "batchnorm": _batchnorm(), "dropout": _dropout(),
}
