"""Convolution: ``Conv2d``, its fields, its checks, and the size and parameter formulas of a conv layer."""

from __future__ import annotations

import math
from typing import Any

from torch import nn

from cnnedu.arch.layers.context import LayerInput, shape_text
from cnnedu.arch.layers.registry import REQUIRED, Field, LayerType
from cnnedu.arch.spec import pair
from cnnedu.arch.window import window_formula
from cnnedu.errors import ArchitectureError, SpecError

KERNEL = Field("kernel_size", "pair", REQUIRED, low=1, help="filter size k or [kh, kw]")
DILATION = Field("dilation", "pair", 1, low=1, help="spacing between filter taps")
BIAS = Field("bias", "bool", True, help="add a learned bias per output")
OUT_CHANNELS = Field("out_channels", "int", REQUIRED, low=1, help="number of filters / output channels")


def _check(index: int, name: str, p: dict[str, Any]) -> None:
    if p["padding"] == "same" and pair(p["stride"]) != (1, 1):
        raise SpecError(f"Layer {index} (Conv2d): padding \"same\" only works with stride 1.",
                        "Use stride 1, or give the padding as a number (k // 2 keeps the size for odd k).",
                        layer=index, field="padding")
    if p["in_channels"] is not None and p["in_channels"] % p["groups"]:
        raise SpecError(f"Layer {index} (Conv2d): in_channels {p['in_channels']} is not divisible by "
                        f"groups {p['groups']}.", layer=index, field="groups")
    if p["out_channels"] % p["groups"]:
        raise SpecError(f"Layer {index} (Conv2d): out_channels {p['out_channels']} is not divisible by "
                        f"groups {p['groups']}.", "Make out_channels a multiple of groups.",
                        layer=index, field="groups")


def _build(given: LayerInput, p: dict[str, Any]) -> nn.Conv2d:
    channels, where = given.shape[0], given.where
    if p["in_channels"] is not None and p["in_channels"] != channels:
        raise ArchitectureError(
            f"{where} expects {p['in_channels']} input channels but receives {channels} "
            f"({shape_text(given.shape)}).", f"Set in_channels to {channels}, or leave it empty.",
            layer=given.index, received=f"{channels} channels", needed=f"{p['in_channels']} channels")
    if channels % p["groups"]:
        raise ArchitectureError(
            f"{where}: {channels} input channels cannot be split into {p['groups']} groups.",
            f"Use a groups value that divides {channels}.", layer=given.index,
            received=f"{channels} channels", needed=f"a multiple of {p['groups']}")
    given.check_window(p["kernel_size"], p["padding"], p["dilation"])
    return nn.Conv2d(channels, p["out_channels"], pair(p["kernel_size"]), pair(p["stride"]),
                     p["padding"] if isinstance(p["padding"], str) else pair(p["padding"]),
                     pair(p["dilation"]), p["groups"], p["bias"])


def window_size_text(module: nn.Module, in_shape: tuple[int, ...]) -> str:
    """The output height and width of a conv or pooling layer, as ⌊(32 − 5 + 2·0)/1⌋ + 1 = 28 (H and W
    apart where they differ)."""
    k, s = pair(module.kernel_size), pair(module.stride)
    d = pair(getattr(module, "dilation", 1))
    ceil = bool(getattr(module, "ceil_mode", False))
    p = (0, 0) if module.padding == "valid" else pair(module.padding)
    texts = [window_formula(in_shape[1 + a], k[a], s[a], p[a], d[a], ceil) for a in (0, 1)]
    return texts[0] if texts[0] == texts[1] else f"H: {texts[0]}; W: {texts[1]}"


def window_kernel_text(module: nn.Module) -> str:
    """'5×5', or '3×3 /2' where the window steps more than one pixel."""
    k, s = pair(module.kernel_size), pair(module.stride)
    ktext = f"{k[0]}×{k[1]}"
    return ktext if s == (1, 1) else f"{ktext} /{s[0] if s[0] == s[1] else f'{s[0]}×{s[1]}'}"


def _size_text(module: nn.Conv2d, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> str:
    if module.padding == "same":
        return f"padding \"same\": {in_shape[1]}×{in_shape[2]} stays {out_shape[1]}×{out_shape[2]}"
    return f"{window_size_text(module, in_shape)}; channels = {module.out_channels} filters"


def _params_text(module: nn.Conv2d) -> str:
    kh, kw = pair(module.kernel_size)
    cin = module.in_channels // module.groups
    w = kh * kw * cin * module.out_channels
    text = f"{kh}·{kw}·{cin}·{module.out_channels}"
    if module.groups > 1:
        text += f" (in_channels {module.in_channels} / groups {module.groups} = {cin})"
    if module.bias is not None:
        return f"{text} + {module.out_channels} = {w + module.out_channels:,}"
    return f"{text} = {w:,} (no bias)"


def _macs(module: nn.Conv2d, out_shape: tuple[int, ...]) -> int:
    kh, kw = pair(module.kernel_size)
    return math.prod(out_shape) * (module.in_channels // module.groups) * kh * kw


def _torchinfo_extra(module: nn.Conv2d, out_shape: tuple[int, ...]) -> int:
    """torchinfo counts a conv's bias once per output position: out_channels × H × W."""
    bias = module.bias.numel() if module.bias is not None else 0
    return bias * math.prod(out_shape[1:])


TYPES = (
    LayerType("Conv2d", "conv", (
        OUT_CHANNELS, KERNEL,
        Field("stride", "pair", 1, low=1, help="step between filter positions"),
        Field("padding", "padding", 0, low=0, help='zeros added on each side, or "same"'),
        DILATION,
        Field("groups", "int", 1, low=1, help="split channels into groups (= in_channels: depthwise)"),
        BIAS,
        Field("in_channels", "int", None, low=1, help="input channels (inferred when empty)"),
    ), "2-D convolution: slides out_channels filters of k×k×in_channels over the image",
        module=nn.Conv2d, build=_build, takes="image", check=_check, code_input="in_channels",
        size_text=_size_text, params_text=_params_text, macs=_macs, torchinfo_extra=_torchinfo_extra,
        kernel_text=window_kernel_text),
)
