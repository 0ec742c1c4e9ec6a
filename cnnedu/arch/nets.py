"""From a spec to a ``torch.nn.Module``, one layer at a time, measuring every shape with PyTorch itself.

``trace`` walks the layers with a tensor on the ``meta`` device (no memory, no arithmetic): it builds each
layer for the shape that arrives, runs it, and records the shape that leaves. The first layer that
does not fit stops the walk with an ``ArchitectureError`` that names it, says what it received and what
it needed, and how to fix it. ``build_model`` does the same walk on real tensors and returns the network.

How each type is built (and what it checks first) is its record's ``build`` in cnnedu/arch/layers/; this
module walks the layers, checks that an image layer gets an image and a vector layer a vector, and words
the errors.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cnnedu.arch.layers.context import LayerInput, shape_text
from cnnedu.arch.layers.registry import layer_type
from cnnedu.arch.spec import Spec, pair, params, parse_spec
from cnnedu.arch.window import AxisWindow, Unseen
from cnnedu.errors import ArchitectureError

# ------------------------------------------------------------------------------------------------- trace


@dataclass
class Trace:
    """What walking a spec found: the layers built so far, the shape before and after each, warnings,
    and the first error (``None`` when every layer fits)."""

    spec: Spec
    names: list[str]
    modules: list[nn.Module] = field(default_factory=list)
    in_shapes: list[tuple[int, ...]] = field(default_factory=list)
    out_shapes: list[tuple[int, ...]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    error: ArchitectureError | None = None

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        return self.out_shapes[-1] if self.out_shapes else tuple(self.spec.input_shape)

    def model(self) -> nn.Sequential:
        """The network as ``nn.Sequential`` (raises the trace's error if a layer did not fit)."""
        if self.error is not None:
            raise self.error
        return nn.Sequential(OrderedDict(zip(self.names, self.modules, strict=True)))


def trace(spec: Spec | dict[str, Any] | str, device: str | torch.device = "meta") -> Trace:
    """Walk the layers, building each for the shape that reaches it. Never raises for a misfit layer:
    the first one is recorded in ``Trace.error`` and the walk stops there."""
    spec = parse_spec(spec)
    result = Trace(spec, spec.names())
    x = torch.zeros((2, *spec.input_shape), device=device)
    with torch.device(device):
        for index, layer in enumerate(spec.layers):
            shape = tuple(x.shape[1:])
            try:
                module = _make_layer(index, result, shape)
                module.eval()
                with torch.no_grad(), warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # said in our words by _warnings()
                    y = module(x)
            except ArchitectureError as err:
                result.error = err
                return result
            except RuntimeError as err:  # torch found a misfit our checks did not foresee
                result.error = ArchitectureError(
                    f"Layer {index} ({result.names[index]}, {layer['type']}) cannot take an input of "
                    f"{shape_text(shape)}: {str(err).splitlines()[0]}", layer=index, received=shape_text(shape))
                return result
            result.modules.append(module)
            result.in_shapes.append(shape)
            result.out_shapes.append(tuple(y.shape[1:]))
            result.warnings.extend((index, w) for w in _warnings(index, result.names[index], layer, module, shape))
            x = y
    _check_output(result)
    return result


def build_model(spec: Spec | dict[str, Any] | str, device: str | torch.device = "cpu") -> nn.Sequential:
    """The spec as a real ``nn.Sequential`` with freshly initialised weights, one child per layer."""
    return trace(spec, device=device).model()


def output_kind(spec: Spec) -> str:
    """What the network's output means: "probs" after Softmax, "log_probs" after LogSoftmax, else "logits"."""
    return layer_type(spec.layers[-1]["type"]).output if spec.layers else "logits"


def count_params(model: nn.Module) -> tuple[int, int]:
    """(all parameters, trainable parameters) of a module. BatchNorm's running statistics are buffers,
    not parameters, so they are not counted."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


# -------------------------------------------------------------------------------------- making one layer


def _make_layer(index: int, so_far: Trace, shape: tuple[int, ...]) -> nn.Module:
    """Build layer ``index`` for an input of ``shape`` (``so_far`` holds the layers before it)."""
    layer = so_far.spec.layers[index]
    kind = layer_type(layer["type"])
    given = LayerInput(index, so_far.names[index], kind.name, shape, _flattened_text(so_far))
    if kind.takes == "image" and len(shape) != 3:
        raise ArchitectureError(
            f"{given.where} needs an image C×H×W but receives {shape_text(shape)} features.",
            f"Move it before the Flatten (layer {_last_flatten(so_far)}), or use a layer for vectors.",
            layer=index, received=shape_text(shape), needed="C×H×W")
    if kind.takes == "vector" and len(shape) != 1:
        raise ArchitectureError(
            f"{given.where} needs a vector of features but receives a {shape_text(shape)} image.",
            f"Add a Flatten layer before it (it would receive {shape_text(shape)} = {_numel(shape)} "
            "features).", layer=index, received=shape_text(shape), needed="features")
    return kind.make(given, layer)


def _last_flatten(so_far: Trace) -> int | str:
    flattens = [i for i, layer in enumerate(so_far.spec.layers[:len(so_far.modules)]) if layer["type"] == "Flatten"]
    return flattens[-1] if flattens else "?"


def _flattened_text(so_far: Trace) -> str:
    """'16×13×13 = ' when the features come straight from a Flatten, so the student sees the product."""
    if so_far.modules and isinstance(so_far.modules[-1], nn.Flatten) and len(so_far.in_shapes[-1]) > 1:
        return f"{shape_text(so_far.in_shapes[-1])} = "
    return ""


def _warnings(index: int, name: str, layer: dict[str, Any], module: nn.Module,
              shape: tuple[int, ...]) -> list[str]:
    """Padding "same" with an even kernel pads unevenly; a window layer may never read some pixels."""
    out = []
    p = params(layer)
    if layer["type"] == "Conv2d" and p["padding"] == "same":
        k = pair(p["kernel_size"])
        if k[0] % 2 == 0 or k[1] % 2 == 0:
            out.append(f"Layer {index} ({name}): padding \"same\" with an even kernel pads one pixel more on "
                       "the bottom/right than on the top/left. An odd kernel (3, 5) pads evenly.")
    lost = unseen_pixels(module, shape)
    if lost:
        if lost.between:
            fix = ("The windows (or the spread-out taps of a dilated kernel) step over pixels: a smaller stride "
                   "or dilation, or a larger kernel, would read them.")
        elif isinstance(module, nn.Conv2d):
            fix = "More padding, or an input size that fits the stride, would keep them."
        else:
            fix = "Padding or ceil_mode=True would keep them."
        out.append(f"Layer {index} ({name}): no window reaches {lost.describe()} of the {shape[1]}×{shape[2]} "
                   f"input, so these pixels are never seen. {fix}")
    return out


def unseen_pixels(module: nn.Module, shape: tuple[int, ...]) -> Unseen | None:
    """The input rows and columns that no window of a conv or pooling layer reads (``None`` for other
    layers), from the layer's own kernel, stride, padding, dilation and ceil_mode. Zero padding is not
    a pixel: a 7×7/2 conv with padding 3 on 224×224 reads every pixel."""
    if not isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)) or len(shape) != 3:
        return None
    k, s = pair(module.kernel_size), pair(module.stride)
    d = pair(getattr(module, "dilation", 1))
    ceil = bool(getattr(module, "ceil_mode", False))
    axes = []
    for a in (0, 1):
        if module.padding == "same":
            axes.append(AxisWindow.same(shape[1 + a], k[a], d[a]))
        else:
            pad = (0, 0) if module.padding == "valid" else pair(module.padding)
            axes.append(AxisWindow(shape[1 + a], k[a], s[a], pad[a], d[a], ceil))
    return Unseen(axes[0].unseen_positions(), axes[1].unseen_positions(), shape[1], shape[2])


def _check_output(result: Trace) -> None:
    if result.error is not None or not result.spec.layers:
        return
    out = result.output_shape
    n = result.spec.num_classes
    if out != (n,):
        last = len(result.spec.layers) - 1
        if len(out) != 1:
            fix = "End with Flatten and a Linear layer with out_features = num_classes."
        else:
            fix = f"Set the last Linear's out_features to {n}, or num_classes to {out[0]}."
        result.error = ArchitectureError(
            f"The network ends with {shape_text(out)} outputs but the spec has {n} classes.", fix,
            layer=last, received=shape_text(out), needed=f"{n}")


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n
