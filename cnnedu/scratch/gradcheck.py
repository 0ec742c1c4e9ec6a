"""Gradient checking: a backward pass compared with centred differences (the coursework's own functions,
seed 003 cell In [4]) and with PyTorch's autograd.

    rel_error(x, y) = max_i |x_i − y_i| / max(1e-8, |x_i| + |y_i|)

The centred difference ``(f(x + h) − f(x − h)) / 2h`` has a truncation error ∝ h² (the f''' term of the
Taylor series) and a round-off error ∝ ε·|f| / h (ε ≈ 1e-16 in float64): h = 1e-5 balances them, so a
correct backward pass agrees to ~1e-9 on a smooth layer; a large h (1e-1) shows the h² error, a tiny h
(1e-12) the round-off. A layer that is linear in an input (affine, convolution, dropout) has no h² term:
any h gives its exact slope up to round-off. A ReLU or a max-pool has kinks: an h larger than the distance
of an input to one straddles it and gives a wrong slope. Autograd has neither: it agrees to ~1e-15 with a correct backward pass.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def rel_error(x: np.ndarray, y: np.ndarray) -> float:
    """The coursework's relative error: ``max |x − y| / max(1e-8, |x| + |y|)``, element-wise."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def eval_numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, verbose: bool = True,
                            h: float = 1e-5) -> np.ndarray:
    """∂f/∂x of a scalar ``f`` at ``x`` by centred differences: ``grad[i] = (f(x + h·e_i) − f(x − h·e_i)) / 2h``.
    Changes ``x[i]`` in place and restores it, so ``f`` must read x (as the coursework's lambdas do)."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        fxph = f(x)
        x[ix] = old - h
        fxmh = f(x)
        x[ix] = old
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray,
                                  h: float = 1e-5) -> np.ndarray:
    """The gradient of ``Σ f(x) · df`` (an array-valued layer under an upstream gradient df) by centred
    differences: ``grad[i] = Σ (f(x + h·e_i) − f(x − h·e_i)) · df / 2h``."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = f(x).copy()
        x[ix] = old - h
        neg = f(x).copy()
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def torch_gradients(op: Callable[..., torch.Tensor], inputs: dict[str, np.ndarray], dout: np.ndarray | None,
                    constants: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The gradients PyTorch's autograd gives for ``op(**inputs, **constants)`` under the upstream gradient
    ``dout`` (None when op returns a scalar loss), in float64. ``inputs`` get gradients; ``constants``
    (labels, a dropout mask) are passed as tensors without."""
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in inputs.items()}
    fixed = {k: torch.from_numpy(np.asarray(v)) for k, v in (constants or {}).items()}
    out = op(**tensors, **fixed)
    out.backward(None if dout is None else torch.from_numpy(np.asarray(dout, dtype=np.float64)))
    return {k: t.grad.numpy() for k, t in tensors.items()}
