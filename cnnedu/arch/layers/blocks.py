"""Blocks of several layers, written like torchvision's ``models/resnet.py``: the MobileNet v1 block and
ResNet's basic and bottleneck blocks, with the same constructor shape ``(in_channels, out_channels, stride)``
and a projection shortcut only where the shape changes. Generated code copies these classes (and the
private helpers they call) from this file's own source, so block code has one home.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cnnedu.arch.layers.context import LayerInput
from cnnedu.arch.layers.conv import OUT_CHANNELS
from cnnedu.arch.layers.registry import Field, LayerType


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


# ------------------------------------------------------------------------------------------ the types

_STRIDE = Field("stride", "int", 1, low=1, help="stride of the block (2 halves the size)")
_PREACT = Field("preact", "bool", False, help="pre-activation: BatchNorm and ReLU before each conv")


def _depthwise(given: LayerInput, p: dict[str, Any]) -> nn.Module:
    given.check_window(3, 1, 1)
    return DepthwiseSeparable(given.shape[0], p["out_channels"], p["stride"])


def _basic(given: LayerInput, p: dict[str, Any]) -> nn.Module:
    given.check_window(3, 1, 1)
    return BasicBlock(given.shape[0], p["out_channels"], p["stride"], p["preact"])


def _bottleneck(given: LayerInput, p: dict[str, Any]) -> nn.Module:
    return Bottleneck(given.shape[0], p["out_channels"], p["stride"], p["width"], p["preact"])


def _residual_note(what: str):
    def note(module: nn.Module) -> str:
        if module.shortcut is not None:
            return f"{what}; projection shortcut (1×1 conv) because the shape changes"
        return f"{what}; identity shortcut (shapes match)"
    return note


_BLOCK = dict(takes="image", block=True, code_input="in_channels", code_always=("stride",))

TYPES = (
    LayerType("DepthwiseSeparable", "dws", (OUT_CHANNELS, _STRIDE), (
        "MobileNet v1 block: 3×3 depthwise conv, BN, ReLU, 1×1 pointwise conv, BN, ReLU"),
        module=DepthwiseSeparable, build=_depthwise, note=lambda module: "depthwise 3×3 then pointwise 1×1",
        **_BLOCK),
    LayerType("BasicBlock", "block", (OUT_CHANNELS, _STRIDE, _PREACT), (
        "ResNet basic block: two 3×3 convs with BatchNorm, plus a shortcut"),
        module=BasicBlock, build=_basic, note=_residual_note("two 3×3 convs + shortcut"), **_BLOCK),
    LayerType("Bottleneck", "bottleneck", (
        OUT_CHANNELS, _STRIDE,
        Field("width", "int", None, low=1, help="channels inside the block (default out_channels / 4)"),
        _PREACT,
    ), "ResNet bottleneck: 1×1 reduce, 3×3, 1×1 expand, plus a shortcut",
        module=Bottleneck, build=_bottleneck, note=_residual_note("1×1 → 3×3 → 1×1 + shortcut"), **_BLOCK),
)
