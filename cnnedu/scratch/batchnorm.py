"""Batch normalization in NumPy (cs231n's signature: ``bn_param = {"mode", "eps", "momentum",
"running_mean", "running_var"}``; x (N, D), gamma and beta (D,)).

Training mode, over the batch:

    μ = (1/N) Σ_n x[n],   σ² = (1/N) Σ_n (x[n] − μ)²        (the biased variance)
    x̂ = (x − μ) / √(σ² + eps),   out = gamma · x̂ + beta
    running_mean = momentum · running_mean + (1 − momentum) · μ      (momentum 0.9 by default)
    running_var  = momentum · running_var  + (1 − momentum) · σ²

Test mode uses the running averages instead of μ and σ².

PyTorch's ``F.batch_norm`` computes the same ``out`` but writes its running averages the other way round,
``running = (1 − m) · running + m · μ`` with m = 0.1 (so its m is 1 − this momentum), and updates
``running_var`` with the *unbiased* variance σ² · N / (N − 1).
"""

from __future__ import annotations

import numpy as np


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict) -> tuple[np.ndarray, tuple | None]:
    """The formulas above; ``bn_param`` is updated in place with the running averages (train mode)."""
    mode = bn_param["mode"]
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat = (x - mu) * inv_std
        out, cache = gamma * x_hat + beta, (x_hat, gamma, inv_std)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
        return out, cache
    if mode == "test":
        x_hat = (x - running_mean) / np.sqrt(running_var + eps)
        return gamma * x_hat + beta, None
    raise ValueError(f'bn_param["mode"] must be "train" or "test", not {mode!r}')


def batchnorm_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of training-mode batch normalization (μ and σ² depend on every x[n], hence the two
    mean terms):

        dbeta  = Σ_n dout[n],     dgamma = Σ_n dout[n] · x̂[n]
        dx̂     = dout · gamma
        dx     = (1 / √(σ² + eps)) · (dx̂ − mean_n(dx̂) − x̂ · mean_n(dx̂ · x̂))
    """
    x_hat, gamma, inv_std = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dx = inv_std * (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0))
    return dx, dgamma, dbeta
