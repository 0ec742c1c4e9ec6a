"""Dropout: zeroes random features (``Dropout``) or whole channels (``Dropout2d``) while training."""

from __future__ import annotations

from torch import nn

from cnnedu.arch.layers.registry import Field, LayerType

_P = Field("p", "float", 0.5, low=0.0, high=1.0, high_inclusive=False, help="probability of zeroing")

TYPES = (
    LayerType("Dropout", "drop", (_P,), "zeroes random features while training", module=nn.Dropout,
              build=lambda given, p: nn.Dropout(p["p"]), code_always=("p",)),
    LayerType("Dropout2d", "drop", (_P,), "zeroes random whole channels while training", module=nn.Dropout2d,
              build=lambda given, p: nn.Dropout2d(p["p"]), takes="image", code_always=("p",)),
)
