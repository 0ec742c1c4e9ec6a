"""The coursework's NumPy networks (seed 003, Tasks 1.6 and 1.8), with its API: ``params`` holds ``W1``,
``b1``, ``W2``, …; ``loss(X)`` returns the scores, ``loss(X, y)`` returns ``(loss, grads)`` with ``grads``
keyed like ``params``. Training is the Solver's job (cnnedu/scratch/solver.py).

A note on the coursework's own TwoLayerNet: its solution chains two ``fc_forward`` calls with no ReLU in
between, and still passes the autograder — with the autograder's ``np.linspace`` weights every hidden
pre-activation is positive, so ReLU changes nothing there. The network below has the ReLU the docstring
asks for ("FC - relu - FC - softmax").
"""

from __future__ import annotations

import numpy as np

from cnnedu.scratch.batchnorm import batchnorm_backward, batchnorm_forward
from cnnedu.scratch.dropout import dropout_backward, dropout_forward
from cnnedu.scratch.layers import (
    fc_backward,
    fc_forward,
    fc_relu_backward,
    fc_relu_forward,
    l2_grad,
    l2_loss,
    relu_backward,
    relu_forward,
    softmax_loss,
)


def _normal(rng: np.random.Generator | None, scale: float, shape: tuple[int, ...]) -> np.ndarray:
    """N(0, scale²) weights: from ``rng`` if given, else from NumPy's global state (as the coursework)."""
    return rng.normal(0.0, scale, size=shape) if rng is not None else np.random.normal(0.0, scale, size=shape)


class TwoLayerNet:
    """FC – ReLU – FC – softmax: input D, hidden H, C classes. Weights ~ N(0, weight_scale²), biases 0.

    ``seed`` (not in the coursework): if given, the weights come from ``np.random.default_rng(seed)``.
    """

    def __init__(self, input_dim: int = 1 * 36 * 120, hidden_dim: int = 128, num_classes: int = 4,
                 weight_scale: float = 1e-3, reg: float = 0.0, seed: int | None = None):
        rng = np.random.default_rng(seed) if seed is not None else None
        self.reg = reg
        self.params = {"W1": _normal(rng, weight_scale, (input_dim, hidden_dim)), "b1": np.zeros(hidden_dim),
                       "W2": _normal(rng, weight_scale, (hidden_dim, num_classes)), "b2": np.zeros(num_classes)}

    def loss(self, X: np.ndarray, y: np.ndarray | None = None):
        """Scores (N, C) if ``y`` is None, else ``(softmax loss + 0.5·reg·(ΣW1² + ΣW2²), grads)``."""
        p = self.params
        hidden, cache1 = fc_relu_forward(X, p["W1"], p["b1"])
        scores, cache2 = fc_forward(hidden, p["W2"], p["b2"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        loss += l2_loss([p["W1"], p["W2"]], self.reg)
        dhidden, dW2, db2 = fc_backward(dscores, cache2)
        _, dW1, db1 = fc_relu_backward(dhidden, cache1)
        grads = {"W1": dW1 + l2_grad(p["W1"], self.reg), "b1": db1,
                 "W2": dW2 + l2_grad(p["W2"], self.reg), "b2": db2}
        return loss, grads


class FullyConnectedNet:
    """``{affine – [batchnorm] – relu – [dropout]} × (L − 1) – affine – softmax`` for L = len(hidden_dims) + 1.

    - ``dropout_keep_ratio``: probability of keeping a unit (1 = no dropout layers; see dropout.py).
    - ``normalization``: None or ``"batchnorm"`` (then ``gamma1``/``beta1``, … in params, ones and zeros).
    - ``seed``: if given, weights come from ``np.random.default_rng(seed)`` and every dropout layer uses
      this seed, so its mask is the same on every call (for gradient checking, as in cs231n; to train
      with dropout, leave seed None and seed NumPy instead).
    """

    def __init__(self, hidden_dims: list[int], input_dim: int = 1 * 36 * 120, num_classes: int = 4,
                 dropout_keep_ratio: float = 1.0, normalization: str | None = None, reg: float = 0.0,
                 weight_scale: float = 1e-2, dtype: type = np.float64, seed: int | None = None):
        if normalization not in (None, "batchnorm"):
            raise ValueError(f'normalization must be None or "batchnorm", not {normalization!r}')
        rng = np.random.default_rng(seed) if seed is not None else None
        self.reg, self.dtype, self.normalization = reg, dtype, normalization
        self.num_layers = 1 + len(hidden_dims)
        self.use_dropout = dropout_keep_ratio != 1
        self.params: dict[str, np.ndarray] = {}
        dims = [input_dim, *hidden_dims, num_classes]
        for i in range(1, self.num_layers + 1):
            self.params[f"W{i}"] = _normal(rng, weight_scale, (dims[i - 1], dims[i]))
            self.params[f"b{i}"] = np.zeros(dims[i])
            if normalization and i < self.num_layers:
                self.params[f"gamma{i}"], self.params[f"beta{i}"] = np.ones(dims[i]), np.zeros(dims[i])
        self.params = {k: v.astype(dtype) for k, v in self.params.items()}
        self.dropout_param = {"mode": "train", "p": dropout_keep_ratio, "seed": seed}
        self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)] if normalization else []

    def loss(self, X: np.ndarray, y: np.ndarray | None = None):
        """Scores (N, C) if ``y`` is None (test mode), else ``(loss, grads)`` (train mode). Either way the
        scores are also kept in ``self.last_scores`` (not in the coursework: the trainer counts the training
        accuracy from them without a second forward pass)."""
        mode = "test" if y is None else "train"
        self.dropout_param["mode"] = mode
        for bn_param in self.bn_params:
            bn_param["mode"] = mode
        out, caches = X.astype(self.dtype), []
        for i in range(1, self.num_layers):
            out, cache = self._hidden_forward(out, i)
            caches.append(cache)
        L = self.num_layers
        scores, last_cache = fc_forward(out, self.params[f"W{L}"], self.params[f"b{L}"])
        self.last_scores = scores
        if mode == "test":
            return scores
        loss, dout = softmax_loss(scores, y)
        loss += l2_loss([self.params[f"W{i}"] for i in range(1, L + 1)], self.reg)
        grads: dict[str, np.ndarray] = {}
        dout, grads[f"W{L}"], grads[f"b{L}"] = fc_backward(dout, last_cache)
        for i in range(L - 1, 0, -1):
            dout = self._hidden_backward(dout, caches[i - 1], i, grads)
        for i in range(1, L + 1):
            grads[f"W{i}"] += l2_grad(self.params[f"W{i}"], self.reg)
        return loss, grads

    def _hidden_forward(self, x: np.ndarray, i: int) -> tuple[np.ndarray, tuple]:
        """affine → [batchnorm] → relu → [dropout] for hidden layer i."""
        out, fc_cache = fc_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        bn_cache = drop_cache = None
        if self.normalization:
            out, bn_cache = batchnorm_forward(out, self.params[f"gamma{i}"], self.params[f"beta{i}"],
                                              self.bn_params[i - 1])
        out, relu_cache = relu_forward(out)
        if self.use_dropout:
            out, drop_cache = dropout_forward(out, self.dropout_param)
        return out, (fc_cache, bn_cache, relu_cache, drop_cache)

    def _hidden_backward(self, dout: np.ndarray, cache: tuple, i: int, grads: dict) -> np.ndarray:
        """The backward passes of :meth:`_hidden_forward`, in reverse order; fills ``grads`` for layer i."""
        fc_cache, bn_cache, relu_cache, drop_cache = cache
        if self.use_dropout:
            dout = dropout_backward(dout, drop_cache)
        dout = relu_backward(dout, relu_cache)
        if self.normalization:
            dout, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(dout, bn_cache)
        dx, grads[f"W{i}"], grads[f"b{i}"] = fc_backward(dout, fc_cache)
        return dx
