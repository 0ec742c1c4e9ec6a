"""Update rules, with the coursework's API (cs231n's ``optim.py``): ``next_w, config = rule(w, dw, config)``.

``config`` holds the hyperparameters (``learning_rate``, ``momentum``) and the rule's state
(``velocity``); the Solver keeps one config per parameter and hands it back on the next step.

Two ways to write SGD with momentum
-----------------------------------
The coursework (seed 003, Task 1.9, and cs231n; Sutskever et al. 2013) keeps a velocity in parameter units:

    v ← μ·v − lr·dw,     w ← w + v                                    (:func:`sgd_momentum`)

PyTorch's ``torch.optim.SGD(momentum=μ)`` keeps it in gradient units and applies lr afterwards:

    b ← μ·b + dw,        w ← w − lr·b                                 (:func:`sgd_momentum_torch`)

With a constant learning rate they are the same algorithm: v = −lr·b at every step, so the weights follow
the same path. They differ when lr changes (a schedule, ``lr_decay``): the coursework's v carries the old
lr inside it, so a drop in lr slows the step down gradually, while PyTorch's b holds no lr and the next step
uses the new lr at once. (Also ``velocity`` starting values mean different things: v₀ = −lr·b₀.)
"""

from __future__ import annotations

import numpy as np


def sgd(w: np.ndarray, dw: np.ndarray, config: dict | None = None) -> tuple[np.ndarray, dict]:
    """Vanilla stochastic gradient descent: ``w ← w − lr·dw`` (config: ``learning_rate``, default 1e-2)."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


def sgd_momentum(w: np.ndarray, dw: np.ndarray, config: dict | None = None) -> tuple[np.ndarray, dict]:
    """SGD with momentum, the coursework's formula: ``v ← μ·v − lr·dw;  w ← w + v``.

    config: ``learning_rate`` (default 1e-2), ``momentum`` μ in [0, 1) (default 0.9; 0 is plain SGD),
    ``velocity`` v (same shape as w; zeros at first), stored back into config.
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def sgd_momentum_torch(w: np.ndarray, dw: np.ndarray, config: dict | None = None) -> tuple[np.ndarray, dict]:
    """SGD with momentum as ``torch.optim.SGD(lr, momentum)`` writes it (dampening 0, no Nesterov):
    ``b ← μ·b + dw;  w ← w − lr·b``, with ``b = dw`` on the first step (PyTorch's rule), kept in
    ``config["momentum_buffer"]``. See the module docstring for how it differs from :func:`sgd_momentum`.
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    buf = config.get("momentum_buffer")
    buf = dw.copy() if buf is None else config["momentum"] * buf + dw
    config["momentum_buffer"] = buf
    return w - config["learning_rate"] * buf, config


UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "sgd_momentum_torch": sgd_momentum_torch}
