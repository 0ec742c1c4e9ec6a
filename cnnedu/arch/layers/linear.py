"""Fully connected: ``Linear``, every output a weighted sum of all input features."""

from __future__ import annotations

from typing import Any

from torch import nn

from cnnedu.arch.layers.context import LayerInput
from cnnedu.arch.layers.registry import REQUIRED, Field, LayerType


def _build(given: LayerInput, p: dict[str, Any]) -> nn.Linear:
    if p["in_features"] is not None and p["in_features"] != given.shape[0]:
        raise given.mismatch("in_features", p["in_features"], "features", given.features_from)
    return nn.Linear(given.shape[0], p["out_features"], p["bias"])


def _params_text(module: nn.Linear) -> str:
    w = module.in_features * module.out_features
    if module.bias is not None:
        return f"{module.in_features}·{module.out_features} + {module.out_features} = {w + module.out_features:,}"
    return f"{module.in_features}·{module.out_features} = {w:,} (no bias)"


def _torchinfo_extra(module: nn.Linear, out_shape: tuple[int, ...]) -> int:
    """torchinfo counts a linear layer's bias once (out_features)."""
    return module.bias.numel() if module.bias is not None else 0


TYPES = (
    LayerType("Linear", "fc", (
        Field("out_features", "int", REQUIRED, low=1, help="number of outputs"),
        Field("bias", "bool", True, help="add a learned bias per output"),
        Field("in_features", "int", None, low=1, help="inputs (inferred when empty)"),
    ), "fully connected: every output is a weighted sum of all inputs", module=nn.Linear, build=_build,
        takes="vector", code_input="in_features",
        size_text=lambda module, in_shape, out_shape: f"out_features = {module.out_features}",
        params_text=_params_text, macs=lambda module, out_shape: module.in_features * module.out_features,
        torchinfo_extra=_torchinfo_extra),
)
