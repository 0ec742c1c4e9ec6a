"""Activations: element-wise functions that keep the shape and have no parameters."""

from __future__ import annotations

from torch import nn

from cnnedu.arch.layers.registry import Field, LayerType

TYPES = (
    LayerType("ReLU", "relu", (), "max(0, x)", module=nn.ReLU),
    LayerType("ReLU6", "relu6_", (), "min(max(0, x), 6): ReLU capped at 6 (MobileNet v2)", module=nn.ReLU6),
    LayerType("LeakyReLU", "lrelu", (
        Field("negative_slope", "float", 0.01, help="slope for x < 0"),
    ), "x for x ≥ 0, slope·x below", module=nn.LeakyReLU,
        build=lambda given, p: nn.LeakyReLU(p["negative_slope"])),
    LayerType("Tanh", "tanh", (), "hyperbolic tangent, output in (−1, 1)", module=nn.Tanh),
    LayerType("Sigmoid", "sigmoid", (), "1 / (1 + e^−x), output in (0, 1)", module=nn.Sigmoid),
    LayerType("GELU", "gelu", (), "Gaussian error linear unit", module=nn.GELU),
)
