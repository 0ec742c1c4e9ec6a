"""Inverted dropout in NumPy (cs231n's signature: ``dropout_param = {"p", "mode", "seed"}``).

``p`` is the probability of **keeping** a unit (cs231n since 2019; PyTorch's ``nn.Dropout(p)`` takes the
probability of *dropping* one, so ``nn.Dropout(1 − p)`` is the same layer). In training mode

    mask = (u < p) / p,  u ~ Uniform[0, 1) element-wise;   out = x · mask

so every unit's expected value is unchanged and test mode is the identity (``out = x``). Given a
``seed``, the mask comes from ``np.random.default_rng(seed)``: the same seed gives the same mask on every
call, which is what a numerical gradient check needs (and the global NumPy random state is untouched).
"""

from __future__ import annotations

import numpy as np


def dropout_mask(shape: tuple[int, ...], p: float, seed: int | None = None) -> np.ndarray:
    """``(u < p) / p`` for u uniform in [0, 1): kept units scaled by 1/p, dropped ones 0."""
    u = np.random.default_rng(seed).random(shape) if seed is not None else np.random.rand(*shape)
    return (u < p) / p


def dropout_forward(x: np.ndarray, dropout_param: dict) -> tuple[np.ndarray, tuple]:
    """``out = x · mask`` in train mode, ``out = x`` in test mode; ``cache = (dropout_param, mask)``."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if not 0 < p <= 1:
        raise ValueError(f"dropout keep probability p must be in (0, 1], not {p}")
    if mode == "train":
        mask = dropout_mask(x.shape, p, dropout_param.get("seed")).astype(x.dtype)
        return x * mask, (dropout_param, mask)
    return x.copy(), (dropout_param, None)


def dropout_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """``dx = dout · mask`` (train mode: the same mask, so dropped units get no gradient); ``dout`` in test mode."""
    dropout_param, mask = cache
    return dout * mask if dropout_param["mode"] == "train" else dout
