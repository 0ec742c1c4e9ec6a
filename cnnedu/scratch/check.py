"""Check one scratch layer's gradients three ways — its backward pass, centred differences, PyTorch's
autograd — on a small random input: the API of the gradient-check page and of ``python -m cnnedu gradcheck``.

    result = check_layer("batchnorm", batch=4, size=5, h=1e-5)
    for g in result.grads:                       # x, gamma, beta
        print(g.name, g.error_numeric, g.error_torch, g.verdict)

``compare_training`` (cnnedu/scratch/compare.py, re-exported here) trains the NumPy network and the same
network in plain PyTorch side by side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cnnedu import budgets
from cnnedu.errors import ScratchError
from cnnedu.scratch.compare import TrainingComparison, compare_training
from cnnedu.scratch.gradcheck import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    rel_error,
    torch_gradients,
)
from cnnedu.scratch.layer_specs import LAYER_SPECS

__all__ = ["LAYERS", "NUMERIC_TOL", "TORCH_TOL", "GradientCheck", "LayerCheck", "TrainingComparison",
           "check_layer", "compare_training"]

#: Layer name → one line saying what it is and what its torch twin is.
LAYERS: dict[str, str] = {name: spec.description for name, spec in LAYER_SPECS.items()}
#: A numerical gradient agrees when rel_error ≤ this (the coursework: "errors should be around e-7 or less").
NUMERIC_TOL = 1e-7
#: Autograd agrees when rel_error ≤ this: two exact gradients in float64 differ by round-off only (~1e-15).
TORCH_TOL = 1e-7


@dataclass
class GradientCheck:
    """One input's or parameter's gradient, three ways."""

    name: str
    shape: tuple[int, ...]
    analytic: np.ndarray
    numeric: np.ndarray
    torch: np.ndarray
    error_numeric: float
    error_torch: float
    verdict: str

    @property
    def ok(self) -> bool:
        return self.error_numeric <= NUMERIC_TOL and self.error_torch <= TORCH_TOL


@dataclass
class LayerCheck:
    """A layer's forward output on ``inputs`` and the check of every gradient. ``constants`` holds what the
    layer reads without a gradient (softmax_loss: the labels ``y``; dropout: the mask's ``seed``)."""

    layer: str
    inputs: dict[str, np.ndarray]
    output: np.ndarray
    grads: list[GradientCheck]
    h: float
    ok: bool
    constants: dict[str, np.ndarray] = field(default_factory=dict)


def verdict(layer: str, error_numeric: float, error_torch: float, h: float) -> str:
    """A sentence on what the two errors say: the backward pass is right or wrong, and if only the
    numerical estimate disagrees, why (h too large, too small, or a kink within h)."""
    if error_torch > TORCH_TOL:
        return (f"does not agree with torch autograd ({error_torch:.1e} > {TORCH_TOL:.0e}): the backward pass "
                "computes a different gradient, so it has a bug")
    if error_numeric <= NUMERIC_TOL:
        return f"agrees (numeric {error_numeric:.1e} ≤ {NUMERIC_TOL:.0e}, torch {error_torch:.1e} ≤ {TORCH_TOL:.0e})"
    why = f"does not agree with the numerical gradient ({error_numeric:.1e} > {NUMERIC_TOL:.0e}), though torch agrees"
    if h < 1e-7:
        return why + (f": h = {h:g} is too small — f(x+h) − f(x−h) loses digits to round-off (error ∝ 1e-16/h); "
                      "try h = 1e-5")
    if LAYER_SPECS[layer].kinks:
        return why + (f": some input lies within h = {h:g} of a kink (ReLU at 0, a pooling window whose two "
                      "largest values are that close), so x ± h straddles it and the slope is wrong; try h = 1e-5")
    if h > 1e-4:
        return why + f": h = {h:g} is too large — a centred difference is off by a term ∝ h²; try h = 1e-5"
    return why + ": the estimate, not the backward pass, is off"


_WHY = {("batchnorm", "batch"): " for batch normalization: with 2 examples each one is exactly one standard "
        "deviation from their mean, so x̂ = ±1 whatever x is and ∂out/∂x is 0 up to round-off",
        ("conv_naive", "size"): " for the naive convolution: its Python loops make the numerical gradient "
        "slow (∝ size⁴); conv_im2col checks up to 16"}


def _validate(layer: str, batch: int, size: int, h: float, seed: int) -> None:
    if layer not in LAYER_SPECS:
        raise ScratchError(f"There is no layer {layer!r} to check.", f"choose one of: {', '.join(LAYER_SPECS)}")
    spec = LAYER_SPECS[layer]
    for name, value, low, high in (("batch", batch, spec.min_batch, budgets.SCRATCH_MAX_BATCH),
                                   ("size", size, 1, spec.max_size)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or not low <= value <= high:
            raise ScratchError(f"{name} must be a whole number from {low} to {high}{_WHY.get((layer, name), '')}; "
                               f"got {value!r}.", f"give {name} between {low} and {high}")
    if not isinstance(h, int | float) or isinstance(h, bool) or not (math.isfinite(h) and 0 < h < 1):
        raise ScratchError(f"The step h must be a number between 0 and 1 (exclusive), not {h!r}.",
                           "use h = 1e-5, the coursework's step; 1e-1 or 1e-12 show what goes wrong")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ScratchError(f"seed must be a whole number ≥ 0, not {seed!r}.", "give seed = 0")


def check_layer(layer: str, *, batch: int | None = None, size: int = 4, h: float = 1e-5,
                seed: int = 0) -> LayerCheck:
    """Run ``layer`` forward on a small random input (``batch`` examples of side ``size``, drawn with
    ``seed``), backward under a random upstream gradient, and compare every gradient with centred
    differences of step ``h`` and with torch autograd (float64).

    ``batch=None`` takes the layer's own default: 2, but 4 for batchnorm (which needs at least 3).
    """
    if layer in LAYER_SPECS and batch is None:
        batch = LAYER_SPECS[layer].default_batch
    _validate(layer, batch, size, h, seed)
    spec = LAYER_SPECS[layer]
    rng = np.random.default_rng(seed)
    inputs, constants = spec.make(rng, batch, size)
    output, cache = spec.forward(inputs, constants)
    dout = None if spec.scalar else rng.standard_normal(np.shape(output))
    analytic = spec.backward(1.0 if spec.scalar else dout, cache)
    from_torch = torch_gradients(spec.torch_op, inputs, dout, constants)
    grads = []
    for name, value in inputs.items():
        numeric = _numeric(spec, inputs, constants, name, dout, h)
        e_num, e_torch = rel_error(analytic[name], numeric), rel_error(analytic[name], from_torch[name])
        grads.append(GradientCheck(name, value.shape, analytic[name], numeric, from_torch[name], e_num, e_torch,
                                   verdict(layer, e_num, e_torch, h)))
    return LayerCheck(layer, inputs, np.asarray(output), grads, h, all(g.ok for g in grads),
                      {k: np.asarray(v) for k, v in constants.items()})


def _numeric(spec, inputs: dict, constants: dict, name: str, dout: np.ndarray | None, h: float) -> np.ndarray:
    """Centred differences of the scratch forward with respect to ``inputs[name]`` (on a copy)."""
    point = inputs[name].copy()

    def f(value: np.ndarray):
        return spec.forward({**inputs, name: value}, constants)[0]

    if spec.scalar:
        return eval_numerical_gradient(f, point, verbose=False, h=h)
    return eval_numerical_gradient_array(f, point, dout, h=h)
