"""From a spec to a ``torch.nn.Module``, one layer at a time, measuring every shape with PyTorch itself.

``trace`` walks the layers with a tensor on the ``meta`` device (no memory, no arithmetic): it builds each
layer for the shape that arrives, runs it, and records the shape that leaves. The first layer that
does not fit stops the walk with an ``ArchitectureError`` that names it, says what it received and what
it needed, and how to fix it. ``build_model`` does the same walk on real tensors and returns the network.

The residual and MobileNet blocks read like torchvision's ``models/resnet.py``: same constructor shape
``(in_channels, out_channels, stride)``, and a projection shortcut only where the shape changes.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cnnedu.arch.spec import LAYER_TYPES, Spec, pair, params, parse_spec
from cnnedu.arch.window import AxisWindow, Unseen
from cnnedu.errors import ArchitectureError

# ------------------------------------------------------------------------------------------------ blocks


class DepthwiseSeparable(nn.Module):
    """MobileNet v1 block (000 Task 1.7): a 3×3 depthwise conv, then a 1×1 pointwise conv."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, in_channels, 3, stride, 1, groups=in_channels, bias=False)
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(x)))


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    """A 1×1 projection (as in 004) only where the block changes the shape; otherwise the identity."""
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Conv2d(in_channels, out_channels, 1, stride)


class BasicBlock(nn.Module):
    """ResNet basic block: conv3×3 → BN → ReLU → conv3×3 → BN, plus the shortcut, then ReLU.

    With ``preact=True`` (full pre-activation, He et al. 2016): BN → ReLU → conv, twice, plus the shortcut.
    As in the paper (and TensorFlow's official ResNet v2, which 004 follows), the identity shortcut carries
    the block's input itself; a projection shortcut reads the pre-activated input (it is a 1×1 conv).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, preact: bool = False):
        super().__init__()
        self.preact = preact
        if preact:
            self.bn0 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        if not preact:
            self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = _shortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preact:
            out = self.relu(self.bn0(x))
            identity = x if self.shortcut is None else self.shortcut(out)
            out = self.conv2(self.relu(self.bn1(self.conv1(out))))
            return out + identity
        identity = x if self.shortcut is None else self.shortcut(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """ResNet bottleneck: conv1×1 (reduce to ``width``) → conv3×3 → conv1×1 (expand), plus the shortcut.

    The stride sits on the first 1×1 conv, as in 004. ``preact=True`` moves BN and ReLU before each conv
    (shortcuts as in ``BasicBlock``: the identity carries the input, a projection reads it pre-activated).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, width: int | None = None,
                 preact: bool = False):
        super().__init__()
        width = width or max(1, out_channels // 4)
        self.preact = preact
        if preact:
            self.bn0 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, width, 1, stride, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        if not preact:
            self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.shortcut = _shortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preact:
            out = self.relu(self.bn0(x))
            identity = x if self.shortcut is None else self.shortcut(out)
            out = self.relu(self.bn1(self.conv1(out)))
            out = self.relu(self.bn2(self.conv2(out)))
            return self.conv3(out) + identity
        identity = x if self.shortcut is None else self.shortcut(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


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
                    f"{_shape_text(shape)}: {str(err).splitlines()[0]}", layer=index, received=_shape_text(shape))
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
    last = spec.layers[-1]["type"] if spec.layers else None
    return {"Softmax": "probs", "LogSoftmax": "log_probs"}.get(last, "logits")


def count_params(model: nn.Module) -> tuple[int, int]:
    """(all parameters, trainable parameters) of a module. BatchNorm's running statistics are buffers,
    not parameters, so they are not counted."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


# -------------------------------------------------------------------------------------- making one layer


def _make_layer(index: int, so_far: Trace, shape: tuple[int, ...]) -> nn.Module:
    """Build layer ``index`` for an input of ``shape`` (``so_far`` holds the layers before it)."""
    layer, name = so_far.spec.layers[index], so_far.names[index]
    p = params(layer)
    t = layer["type"]
    where = f"Layer {index} ({name}, {t})"
    kind = LAYER_TYPES[t]
    image_layer = t in ("Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm2d",
                        "Dropout2d") or kind.block
    if image_layer and len(shape) != 3:
        raise ArchitectureError(
            f"{where} needs an image C×H×W but receives {_shape_text(shape)} features.",
            f"Move it before the Flatten (layer {_last_flatten(so_far)}), or use a layer for vectors.", layer=index, received=_shape_text(shape), needed="C×H×W")
    if t in ("Linear", "BatchNorm1d") and len(shape) != 1:
        raise ArchitectureError(
            f"{where} needs a vector of features but receives a {_shape_text(shape)} image.",
            f"Add a Flatten layer before it (it would receive {_shape_text(shape)} = {_numel(shape)} "
            "features).", layer=index, received=_shape_text(shape), needed="features")

    if t == "Conv2d":
        channels = shape[0]
        if p["in_channels"] is not None and p["in_channels"] != channels:
            raise ArchitectureError(
                f"{where} expects {p['in_channels']} input channels but receives {channels} "
                f"({_shape_text(shape)}).", f"Set in_channels to {channels}, or leave it empty.",
                layer=index, received=f"{channels} channels", needed=f"{p['in_channels']} channels")
        if channels % p["groups"]:
            raise ArchitectureError(
                f"{where}: {channels} input channels cannot be split into {p['groups']} groups.",
                f"Use a groups value that divides {channels}.", layer=index,
                received=f"{channels} channels", needed=f"a multiple of {p['groups']}")
        _check_window(where, index, shape, p["kernel_size"], p["padding"], p["dilation"])
        return nn.Conv2d(channels, p["out_channels"], pair(p["kernel_size"]), pair(p["stride"]),
                         p["padding"] if isinstance(p["padding"], str) else pair(p["padding"]),
                         pair(p["dilation"]), p["groups"], p["bias"])
    if t == "MaxPool2d":
        _check_window(where, index, shape, p["kernel_size"], p["padding"], p["dilation"])
        return nn.MaxPool2d(pair(p["kernel_size"]), pair(p["stride"] or p["kernel_size"]), pair(p["padding"]),
                            pair(p["dilation"]), ceil_mode=p["ceil_mode"])
    if t == "AvgPool2d":
        _check_window(where, index, shape, p["kernel_size"], p["padding"], 1)
        return nn.AvgPool2d(pair(p["kernel_size"]), pair(p["stride"] or p["kernel_size"]), pair(p["padding"]),
                            ceil_mode=p["ceil_mode"])
    if t == "AdaptiveAvgPool2d":
        return nn.AdaptiveAvgPool2d(pair(p["output_size"]))
    if t in ("BatchNorm2d", "BatchNorm1d"):
        channels = shape[0]
        if p["num_features"] is not None and p["num_features"] != channels:
            unit = "channels" if t == "BatchNorm2d" else "features"
            raise ArchitectureError(
                f"{where} expects {p['num_features']} {unit} but receives {channels}.",
                f"Set num_features to {channels}, or leave it empty.", layer=index,
                received=f"{channels} {unit}", needed=f"{p['num_features']} {unit}")
        cls = nn.BatchNorm2d if t == "BatchNorm2d" else nn.BatchNorm1d
        return cls(channels, p["eps"], p["momentum"], p["affine"])
    if t == "Linear":
        features = shape[0]
        if p["in_features"] is not None and p["in_features"] != features:
            raise ArchitectureError(
                f"{where} expects {p['in_features']} features but receives {_flattened_text(so_far)}"
                f"{features}.", f"Set in_features to {features}, or leave it empty.", layer=index,
                received=f"{features} features", needed=f"{p['in_features']} features")
        return nn.Linear(features, p["out_features"], p["bias"])
    if t == "DepthwiseSeparable":
        _check_window(where, index, shape, 3, 1, 1)
        return DepthwiseSeparable(shape[0], p["out_channels"], p["stride"])
    if t == "BasicBlock":
        _check_window(where, index, shape, 3, 1, 1)
        return BasicBlock(shape[0], p["out_channels"], p["stride"], p["preact"])
    if t == "Bottleneck":
        return Bottleneck(shape[0], p["out_channels"], p["stride"], p["width"], p["preact"])
    simple = {"Dropout": lambda: nn.Dropout(p["p"]), "Dropout2d": lambda: nn.Dropout2d(p["p"]),
              "ReLU": nn.ReLU, "LeakyReLU": lambda: nn.LeakyReLU(p["negative_slope"]), "Tanh": nn.Tanh,
              "Sigmoid": nn.Sigmoid, "GELU": nn.GELU, "Flatten": nn.Flatten,
              "Softmax": lambda: nn.Softmax(dim=1), "LogSoftmax": lambda: nn.LogSoftmax(dim=1)}
    return simple[t]()


def _last_flatten(so_far: Trace) -> int | str:
    flattens = [i for i, layer in enumerate(so_far.spec.layers[:len(so_far.modules)]) if layer["type"] == "Flatten"]
    return flattens[-1] if flattens else "?"


def _flattened_text(so_far: Trace) -> str:
    """'16×13×13 = ' when the features come straight from a Flatten, so the student sees the product."""
    if so_far.modules and isinstance(so_far.modules[-1], nn.Flatten) and len(so_far.in_shapes[-1]) > 1:
        return f"{_shape_text(so_far.in_shapes[-1])} = "
    return ""


def _check_window(where: str, index: int, shape: tuple[int, ...], kernel: Any, padding: Any,
                  dilation: Any) -> None:
    """A kernel (spread by its dilation) must fit inside the padded input."""
    if isinstance(padding, str):
        return  # "same" pads as needed, "valid" handled by the size check below via padding 0
    k, pad, d = pair(kernel), pair(padding), pair(dilation)
    for axis, size in ((0, shape[1]), (1, shape[2])):
        span = d[axis] * (k[axis] - 1) + 1
        if span > size + 2 * pad[axis]:
            kernel_text = f"{k[0]}×{k[1]}" if k[0] != k[1] else str(k[0])
            after = f"after layer {index - 1}" if index > 0 else "at the input"
            pad_text = f" padded by {pad[axis]}" if pad[axis] else ""
            raise ArchitectureError(
                f"{where}: kernel {kernel_text} is larger than the {shape[1]}×{shape[2]} input{pad_text} "
                f"{after}.", "Use a smaller kernel, add padding, or remove a pooling layer before it.",
                layer=index, received=f"{shape[1]}×{shape[2]}", needed=f"at least {span}×{span}")


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
            f"The network ends with {_shape_text(out)} outputs but the spec has {n} classes.", fix,
            layer=last, received=_shape_text(out), needed=f"{n}")


def _shape_text(shape: tuple[int, ...] | None) -> str:
    return "×".join(str(s) for s in shape) if shape else "?"


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n
