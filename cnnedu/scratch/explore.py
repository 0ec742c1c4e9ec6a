"""What the From-scratch page shows, as plain functions (the page only draws them).

    check = explore.check("softmax_loss", size=4, h=1e-1)   # one layer, three gradients
    explore.verdict(check)                                   # "does not agree with the numerical …: h too large"
    explore.error_sweep("softmax_loss", size=4)              # the worst error for every step h (a V on log axes)
    settings = explore.FitSettings.read("100", epochs=5, batch=25, lr=0.1, n=500)
    result = explore.comparison(settings, on_step=print)     # NumPy and PyTorch, same weights, same batches

Results are kept in small shared caches: every input is drawn from a seed, so the same settings give the
same numbers for every student, and a reload (or the second student asking) shows them at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnedu import budgets
from cnnedu.errors import ScratchError
from cnnedu.scratch.check import LAYERS, NUMERIC_TOL, TORCH_TOL, LayerCheck, check_layer
from cnnedu.scratch.compare import OnStep, TrainingComparison, compare_training
from cnnedu.scratch.layer_specs import LAYER_SPECS

__all__ = ["DEFAULT_H", "H_STEPS", "LAYERS", "FitSettings", "arrays", "cached_comparison", "check",
           "comparison", "comparison_note", "comparison_rows", "error_sweep", "gradient_rows", "h_label",
           "summary", "sweep_note", "verdict"]

#: The steps h the page offers, large to small; the coursework uses 1e-5.
H_STEPS = [10.0 ** -k for k in range(1, 13)]
DEFAULT_H = 1e-5
#: The sweep over every h checks an input of at most this size (12 checks of a naive 8×8 convolution take
#: 15 s; of a 4×4 one, 3 s).
SWEEP_SIZE = 4
_GAZE_CLASSES = 4


class _Cache:
    """A small least-recently-used cache shared by every session (thread-safe: each session runs in its
    own thread)."""

    def __init__(self, size: int):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        return None

    def put(self, key: Hashable, value: Any) -> Any:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value

    def through(self, key: Hashable, make: Callable[[], Any]) -> Any:
        found = self.get(key)
        return found if found is not None else self.put(key, make())


_CHECKS, _SWEEPS, _FITS = _Cache(64), _Cache(32), _Cache(16)


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def gradient_link(saved: Any) -> dict[str, Any]:
    """The layer check's settings read from a link (``?grad=``), keeping only what the page's widgets can
    show: a hand-edited or hostile link falls back to the defaults instead of breaking the page."""
    saved = saved if isinstance(saved, dict) else {}
    checks = {"layer": lambda v: isinstance(v, str) and v in LAYERS,
              "h": lambda v: isinstance(v, float) and v in H_STEPS,
              "size": lambda v: _whole(v, 1, budgets.SCRATCH_MAX_SIZE)}
    return {k: saved[k] for k, ok in checks.items() if k in saved and ok(saved[k])}


def fit_link(saved: Any) -> dict[str, Any]:
    """The comparison's settings read from a link (``?fit=``), as gradient_link."""
    saved = saved if isinstance(saved, dict) else {}
    checks = {"hidden": lambda v: isinstance(v, str) and len(v) <= 100,
              "epochs": lambda v: _whole(v, 1, budgets.SCRATCH_MAX_EPOCHS),
              "batch": lambda v: _whole(v, 1, budgets.SCRATCH_MAX_IMAGES),
              "lr": lambda v: isinstance(v, float) and 1e-5 <= v <= 1.0,
              "n": lambda v: _whole(v, 10, budgets.SCRATCH_MAX_IMAGES)}
    return {k: saved[k] for k, ok in checks.items() if k in saved and ok(saved[k])}


def h_label(h: float) -> str:
    """1e-05 → "1e-5"."""
    mantissa, exponent = f"{h:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


# ------------------------------------------------------------------------------------ one layer's check
def check(layer: str, *, size: int, h: float, batch: int | None = None) -> LayerCheck:
    """``check_layer`` with seed 0, cached (ScratchError for a layer or size it cannot check)."""
    return _CHECKS.through((layer, size, h, batch), lambda: check_layer(layer, batch=batch, size=size, h=h))


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) or "a number"


def summary(result: LayerCheck) -> str:
    """One line: what goes in, what comes out."""
    inputs = ", ".join(f"{name} {_shape(np.shape(value))}" for name, value in result.inputs.items())
    return f"**{result.layer}**: {LAYERS[result.layer]}. Input {inputs} → output {_shape(np.shape(result.output))}."


def verdict(result: LayerCheck) -> str:
    """The check as a sentence: all gradients right, or which one is off and why."""
    if result.ok:
        worst = max(g.error_numeric for g in result.grads)
        return (f"Every gradient agrees: the backward pass matches torch autograd, and the numerical gradient "
                f"with h = {h_label(result.h)} to {worst:.1e} (at most {h_label(NUMERIC_TOL)}, as the coursework asks).")
    reasons: dict[str, list] = {}  # the same reason (h too large, …) for several gradients: said once
    for g in result.grads:
        if not g.ok:
            reasons.setdefault(g.verdict.split(" (")[0] + ":" + g.verdict.partition(": ")[2], []).append(g)
    sentences = []
    for grads in reasons.values():
        names = " and ".join(", ".join(f"d{g.name}" for g in grads).rsplit(", ", 1))
        if len(grads) == 1:
            sentences.append(f"{names} {grads[0].verdict}.")
            continue
        errors = ", ".join(f"{g.error_numeric:.1e}" for g in grads)
        head, _, why = grads[0].verdict.partition(": ")
        head = head.split(" (")[0] + f" ({errors} > {h_label(NUMERIC_TOL)})" + head.partition(")")[2]
        sentences.append(f"{names} {head.replace('does not', 'do not', 1)}" + (f": {why}." if why else "."))
    return " ".join(sentences)


def gradient_rows(result: LayerCheck) -> list[dict[str, str]]:
    """One row per gradient: its shape and both relative errors, written as 1.2e-10."""
    return [{"gradient": f"d{g.name}", "shape": _shape(g.shape),
             "backward vs numerical": f"{g.error_numeric:.1e}", "backward vs torch autograd": f"{g.error_torch:.1e}",
             "verdict": "✓ agrees" if g.ok else "✗ " + g.verdict.split(":")[0]}
            for g in result.grads]


def arrays(result: LayerCheck) -> Iterator[tuple[str, np.ndarray]]:
    """The numbers themselves, each as a 2-D table (rows = examples): inputs, output, the three gradients."""
    def table(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64)
        return a.reshape(1, 1) if a.ndim == 0 else a.reshape(len(a), -1) if a.ndim > 1 else a.reshape(1, -1)

    for name, value in result.inputs.items():
        yield f"{name} ({_shape(value.shape)})", table(value)
    yield f"output ({_shape(np.shape(result.output))})", table(result.output)
    for g in result.grads:
        yield f"d{g.name} by the backward pass", table(g.analytic)
        yield f"d{g.name} by centred differences, h = {h_label(result.h)}", table(g.numeric)
        yield f"d{g.name} by torch autograd", table(g.torch)


def error_sweep(layer: str, *, size: int, batch: int | None = None) -> list[dict[str, Any]]:
    """For every step in H_STEPS: the worst relative error of the numerical gradient and of torch autograd,
    on an input of size ``min(size, SWEEP_SIZE)``."""
    size = min(size, SWEEP_SIZE)

    def sweep() -> list[dict[str, Any]]:
        rows = []
        for h in H_STEPS:
            result = check(layer, size=size, h=h, batch=batch)
            rows.append({"h": h, "relative error": max(max(g.error_numeric for g in result.grads), 1e-18),
                         "compared with": "numerical gradient"})
            rows.append({"h": h, "relative error": max(max(g.error_torch for g in result.grads), 1e-18),
                         "compared with": "torch autograd"})
        return rows

    return _SWEEPS.through((layer, size, batch), sweep)


def sweep_note(rows: list[dict[str, Any]]) -> str:
    """What the sweep shows: the best step, and how the error behaves away from it."""
    numeric = [r for r in rows if r["compared with"] == "numerical gradient"]
    best = min(numeric, key=lambda r: r["relative error"])
    large, small = numeric[0], numeric[-1]
    torch_note = f"Torch autograd does not depend on h (at most {h_label(TORCH_TOL)} every time)."
    tiny = (f"At h = {h_label(small['h'])} it is off by {small['relative error']:.0e}: f(x+h) − f(x−h) loses its "
            f"digits to round-off (∝ 1e-16/h). ")
    if large["relative error"] <= NUMERIC_TOL:
        return (f"Over every h (input size ≤ {SWEEP_SIZE}): this layer is linear in each of its inputs, so the "
                f"centred difference is exact for any h, even h = {h_label(large['h'])} "
                f"({large['relative error']:.0e}); only a tiny h hurts. " + tiny + torch_note)
    return (f"Over every h (input size ≤ {SWEEP_SIZE}): the numerical gradient is closest at "
            f"h = {h_label(best['h'])} ({best['relative error']:.0e}). At h = {h_label(large['h'])} it is off by "
            f"{large['relative error']:.0e}: the centred difference carries an error ∝ h² where the layer curves, "
            f"or jumps across a kink (ReLU at 0, a max-pool tie). " + tiny + torch_note)


# ------------------------------------------------------------------------ NumPy and PyTorch side by side
@dataclass(frozen=True)
class FitSettings:
    """The comparison's settings, checked."""

    hidden: tuple[int, ...]
    epochs: int
    batch: int
    lr: float
    n: int

    @property
    def steps(self) -> int:
        return self.epochs * -(-self.n // self.batch)

    @classmethod
    def read(cls, hidden: str, epochs: int, batch: int, lr: float, n: int) -> FitSettings:
        """From what a student typed ("100, 100"); a ScratchError saying what to change."""
        parts = [p.strip() for p in str(hidden).replace(";", ",").split(",") if p.strip()]
        if not parts or not all(p.isdigit() and 1 <= int(p) <= budgets.SCRATCH_MAX_HIDDEN for p in parts) \
                or len(parts) > budgets.SCRATCH_MAX_LAYERS:
            raise ScratchError(f"The hidden layers {str(hidden)[:40]!r} cannot be read.",
                               f"write the number of neurons of each hidden layer, 1 to "
                               f"{budgets.SCRATCH_MAX_HIDDEN}, separated by commas, at most "
                               f"{budgets.SCRATCH_MAX_LAYERS} layers: for example 100, 100")
        settings = cls(tuple(int(p) for p in parts), int(epochs), int(batch), float(lr), int(n))
        if settings.batch > settings.n:
            raise ScratchError(f"A batch of {settings.batch} is larger than the {settings.n} training images.",
                               f"use a batch size of at most {settings.n}")
        if settings.steps > budgets.SCRATCH_MAX_STEPS:
            raise ScratchError(f"That is {settings.steps:,} training steps; this page trains at most "
                               f"{budgets.SCRATCH_MAX_STEPS:,}, so that it answers in a few seconds.",
                               "use a larger batch, fewer epochs or fewer images")
        return settings


def comparison_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic eye images (gaze-synthetic: 1×36×120, 4 gaze quadrants) as rows of 4,320 features in
    0..1 with the mean image subtracted (as seed 003 does), and their labels."""
    from cnnedu.data.gaze import generate_gaze

    images, labels = generate_gaze(n, seed=seed)
    x = images.reshape(n, -1).numpy().astype(np.float64) / 255.0
    return x - x.mean(axis=0), labels.numpy()


def cached_comparison(settings: FitSettings) -> TrainingComparison | None:
    """The comparison for these settings if someone trained it already, else None."""
    return _FITS.get(settings)


def comparison(settings: FitSettings, on_step: OnStep | None = None) -> TrainingComparison:
    """Train the NumPy FullyConnectedNet and its PyTorch twin from the same weights on the same batches."""
    x, y = comparison_data(settings.n)
    result = compare_training(x, y, list(settings.hidden), num_classes=_GAZE_CLASSES, epochs=settings.epochs,
                              batch_size=settings.batch, lr=settings.lr, on_step=on_step)
    return _FITS.put(settings, result)


def comparison_note(result: TrainingComparison) -> str:
    """The verdict on the two curves."""
    agree = result.max_difference <= 1e-6
    return (f"**Largest difference between the two losses over {len(result.steps):,} steps: "
            f"{result.max_difference:.1e}**" + (
                " — they agree to floating-point precision: the NumPy forward and backward passes compute "
                "what PyTorch's autograd computes." if agree else
                " — more than 1e-6: the two networks no longer compute the same thing (a diverging run "
                "amplifies round-off; try a smaller learning rate).")
            + f" First loss {result.numpy_loss[0]:.4f} (about ln 4 = 1.3863 for small random weights), "
              f"last {result.numpy_loss[-1]:.4f}.")


def comparison_rows(result: TrainingComparison) -> list[dict[str, Any]]:
    """Both curves in long form, for one chart."""
    return [{"step": s, "loss": value, "network": name}
            for name, losses in (("NumPy (from scratch)", result.numpy_loss), ("PyTorch", result.torch_loss))
            for s, value in zip(result.steps, losses)]


def max_size(layer: str) -> int:
    """The largest input size the layer's check takes."""
    return LAYER_SPECS[layer].max_size if layer in LAYER_SPECS else budgets.SCRATCH_MAX_SIZE
