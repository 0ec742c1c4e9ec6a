"""Reshaping: ``Flatten`` turns a C×H×W image into one vector of C·H·W features."""

from __future__ import annotations

import math

from torch import nn

from cnnedu.arch.layers.registry import LayerType


def _size_text(module: nn.Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> str:
    return " × ".join(str(v) for v in in_shape) + f" = {math.prod(in_shape)}"


TYPES = (
    LayerType("Flatten", "flatten", (), "C×H×W image → one vector of C·H·W features", module=nn.Flatten,
              size_text=_size_text),
)
