"""Pooling: ``MaxPool2d``, ``AvgPool2d`` (a window without weights) and ``AdaptiveAvgPool2d``. A pooling
layer without a stride steps by its kernel size: ``_kernel_as_stride`` is the one place that says so."""

from __future__ import annotations

from typing import Any

from torch import nn

from cnnedu.arch.layers.context import LayerInput
from cnnedu.arch.layers.conv import DILATION, KERNEL, window_kernel_text, window_size_text
from cnnedu.arch.layers.registry import Field, LayerType
from cnnedu.arch.spec import pair
from cnnedu.errors import SpecError

_STRIDE = Field("stride", "pair", None, low=1, help="step; empty means the kernel size")
_PADDING = Field("padding", "pair", 0, low=0)
_CEIL = Field("ceil_mode", "bool", False, help="round the output size up instead of down")


def _kernel_as_stride(p: dict[str, Any]) -> dict[str, Any]:
    """PyTorch's rule: a pooling layer given no stride steps by its kernel size."""
    return {**p, "stride": p["stride"] or p["kernel_size"]}


def _check(index: int, name: str, p: dict[str, Any]) -> None:
    k, pad = pair(p["kernel_size"]), pair(p["padding"])
    if pad[0] > k[0] // 2 or pad[1] > k[1] // 2:
        raise SpecError(f"Layer {index} ({name}): padding {p['padding']} is more than half the kernel "
                        f"size {p['kernel_size']}.", "PyTorch allows at most kernel_size // 2.",
                        layer=index, field="padding")


def _max(given: LayerInput, p: dict[str, Any]) -> nn.MaxPool2d:
    given.check_window(p["kernel_size"], p["padding"], p["dilation"])
    return nn.MaxPool2d(pair(p["kernel_size"]), pair(p["stride"]), pair(p["padding"]), pair(p["dilation"]),
                        ceil_mode=p["ceil_mode"])


def _avg(given: LayerInput, p: dict[str, Any]) -> nn.AvgPool2d:
    given.check_window(p["kernel_size"], p["padding"], 1)
    return nn.AvgPool2d(pair(p["kernel_size"]), pair(p["stride"]), pair(p["padding"]), ceil_mode=p["ceil_mode"])


def _window_size(module: nn.Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> str:
    return window_size_text(module, in_shape)


def _adaptive_size(module: nn.Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> str:
    return f"fixed output {out_shape[1]}×{out_shape[2]} (averages over each region)"


_WINDOW = dict(takes="image", check=_check, derive=_kernel_as_stride, size_text=_window_size,
               kernel_text=window_kernel_text)

TYPES = (
    LayerType("MaxPool2d", "pool", (KERNEL, _STRIDE, _PADDING, DILATION, _CEIL),
              "keeps the largest value of each k×k window", module=nn.MaxPool2d, build=_max, **_WINDOW),
    LayerType("AvgPool2d", "avgpool", (KERNEL, _STRIDE, _PADDING, _CEIL),
              "averages each k×k window", module=nn.AvgPool2d, build=_avg, **_WINDOW),
    LayerType("AdaptiveAvgPool2d", "gap", (
        Field("output_size", "pair", 1, low=1, help="output height and width"),
    ), "averages down to a fixed output size (1 = global average pooling)", module=nn.AdaptiveAvgPool2d,
        build=lambda given, p: nn.AdaptiveAvgPool2d(pair(p["output_size"])), takes="image",
        code_always=("output_size",), size_text=_adaptive_size),
)
