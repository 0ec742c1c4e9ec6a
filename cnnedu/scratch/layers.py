"""The fully-connected layer, ReLU, the softmax loss and L2 regularisation, in NumPy (seed 003, Part 1.1).

Every layer is a pair of functions, as in the coursework (and cs231n):

    out, cache = layer_forward(inputs...)       # cache: what the backward pass needs
    dinputs... = layer_backward(dout, cache)    # dout = ∂L/∂out, the upstream gradient

so a network is a chain of forwards and, in reverse order, of backwards (the chain rule).
"""

from __future__ import annotations

import numpy as np


def fc_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Fully-connected (affine) layer: ``out = x̃ · w + b``, where x̃ is x reshaped to rows.

    x has shape (N, d_1, ..., d_k): N examples of D = d_1·…·d_k values each, reshaped to (N, D);
    w is (D, M), b is (M,); out is (N, M). ``cache = (x, w, b)``.
    """
    N, D = x.shape[0], w.shape[0]
    out = x.reshape(N, D) @ w + b
    return out, (x, w, b)


def fc_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the affine layer, from ``out = x̃ w + b``:

        dx = dout · wᵀ   (reshaped back to x's shape)
        dw = x̃ᵀ · dout
        db = Σ_n dout[n]    (b is added to every row, so its gradient sums over the batch)
    """
    x, w, _ = cache
    N, D = x.shape[0], w.shape[0]
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(N, D).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ReLU: ``out = max(0, x)`` element-wise; ``cache = x``."""
    return np.maximum(0, x), x


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """``dx = dout · 1[x > 0]``: the gradient passes where the input was positive, is 0 elsewhere (at x = 0
    too: ReLU has a kink there, and 0 is the subgradient the coursework and PyTorch both choose)."""
    dx = dout.copy()
    dx[cache <= 0] = 0
    return dx


def fc_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """The coursework's convenience layer: an affine layer followed by a ReLU."""
    fc_out, fc_cache = fc_forward(x, w, b)
    out, relu_cache = relu_forward(fc_out)
    return out, (fc_cache, relu_cache)


def fc_relu_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`fc_relu_forward`: through the ReLU first, then the affine layer."""
    fc_cache, relu_cache = cache
    return fc_backward(relu_backward(dout, relu_cache), fc_cache)


def softmax_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy over a batch, and its gradient.

    x: scores (N, C); y: labels (N,) with 0 ≤ y[i] < C.

        p[i, j] = exp(x[i, j] − max_j x[i]) / Σ_k exp(x[i, k] − max_j x[i])   (the shift avoids overflow)
        loss    = −(1/N) Σ_i log p[i, y[i]]
        dx      = (p − onehot(y)) / N
    """
    N = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(N), y].mean()
    dx = np.exp(log_p)
    dx[np.arange(N), y] -= 1
    return float(loss), dx / N


def l2_loss(weights: list[np.ndarray], reg: float) -> float:
    """The coursework's L2 regularisation, with its factor 0.5: ``0.5 · reg · Σ_W Σ W²`` (biases excluded)."""
    return 0.5 * reg * sum(float(np.sum(w * w)) for w in weights)


def l2_grad(w: np.ndarray, reg: float) -> np.ndarray:
    """Gradient of ``0.5 · reg · Σ W²`` with respect to W: ``reg · W`` (the 0.5 cancels the 2 of W²)."""
    return reg * w
