"""Normalisation: ``BatchNorm2d`` (per channel of an image) and ``BatchNorm1d`` (per feature of a vector).
Their γ and β are parameters; the running mean and variance are buffers, not learned."""

from __future__ import annotations

from typing import Any

from torch import nn

from cnnedu.arch.layers.context import LayerInput
from cnnedu.arch.layers.registry import Field, LayerType

_FIELDS = (
    Field("num_features", "int", None, low=1, help="channels (inferred when empty)"),
    Field("eps", "float", 1e-5, low=1e-12, help="added to the variance"),
    Field("momentum", "float", 0.1, low=0.0, high=1.0, help="running-statistics update rate"),
    Field("affine", "bool", True, help="learn a scale (gamma) and shift (beta)"),
)


def _builder(cls: type, unit: str):
    def build(given: LayerInput, p: dict[str, Any]) -> nn.Module:
        if p["num_features"] is not None and p["num_features"] != given.shape[0]:
            raise given.mismatch("num_features", p["num_features"], unit)
        return cls(given.shape[0], p["eps"], p["momentum"], p["affine"])
    return build


def _params_text(module: nn.Module) -> str:
    if module.affine:
        return f"2·{module.num_features} = {2 * module.num_features} (γ, β)"
    return "0 (affine = false)"


def _note(module: nn.Module) -> str:
    learned = sum(p.numel() for p in module.parameters())
    buffers = sum(b.numel() for n, b in module.named_buffers() if not n.endswith("num_batches_tracked"))
    return (f"γ and β are learned ({learned}); the running mean and variance ({buffers} values) "
            "are buffers, not parameters")


TYPES = (
    LayerType("BatchNorm2d", "bn", _FIELDS, "normalises each channel over the batch", module=nn.BatchNorm2d,
              build=_builder(nn.BatchNorm2d, "channels"), takes="image", code_input="num_features",
              params_text=_params_text, note=_note),
    LayerType("BatchNorm1d", "bn", _FIELDS, "normalises each feature over the batch", module=nn.BatchNorm1d,
              build=_builder(nn.BatchNorm1d, "features"), takes="vector", code_input="num_features",
              params_text=_params_text, note=_note),
)
