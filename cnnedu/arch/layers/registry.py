"""What a layer type is, in one record, and the lookup of every type by name or by the module it builds.

A ``LayerType`` holds all that cnnedu knows about one kind of layer: its fields and their defaults (what
``spec.parse_spec`` checks), how it is built into a torch module for the shape that reaches it (what
``nets.trace`` calls), how its output size and parameter count follow from its settings (the formulas
``analysis`` shows), and which constructor arguments the generated PyTorch code writes out (``codegen``).
The family modules beside this one (conv.py, pool.py, ...) each list their types in ``TYPES``; adding a
type means adding one record there, as torchvision's ``resnet.py`` adds a block by one class.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

    from cnnedu.arch.layers.context import LayerInput

REQUIRED = object()  # marks a field without a default


@dataclass(frozen=True)
class Field:
    """One setting of a layer: its kind of value, default and allowed range."""

    name: str
    kind: str  # "int", "pair" (int or [h, w]), "padding" (pair or "same"), "float", "bool", "size"
    default: Any = REQUIRED
    low: float | None = None  # smallest allowed value (inclusive)
    high: float | None = None  # largest allowed value
    high_inclusive: bool = True
    help: str = ""


def _same_shape(module: nn.Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> str:
    return "same shape as the input"


def _own_params(module: nn.Module, out_shape: tuple[int, ...]) -> int:
    """torchinfo counts every parameter that is not a product's weight once (a BatchNorm's γ and β)."""
    return sum(p.numel() for p in module.parameters(recurse=False))


@dataclass(frozen=True)
class LayerType:
    """A layer type a spec may use: its fields, the prefix of its default name, what it does, how it is
    built, its formulas, and how generated code writes it."""

    name: str
    prefix: str
    fields: tuple[Field, ...] = ()
    help: str = ""
    module: type | None = None  # the nn.Module class it builds
    build: Callable[[LayerInput, dict[str, Any]], nn.Module] | None = None  # None: ``module()``
    takes: str = "any"  # "image" (C×H×W), "vector" (features) or "any"
    block: bool = False  # made of several sub-layers
    check: Callable[[int, str, dict[str, Any]], None] | None = None  # (index, type, params): checks of two fields
    derive: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # settings that follow from others
    output: str = "logits"  # what the network's output means when it ends with this layer
    # generated code: the argument that gets the input's channels / features, those always written (the
    # others only where they differ from the default), and fixed ones
    code_input: str | None = None
    code_always: tuple[str, ...] = ()
    code_fixed: tuple[tuple[str, Any], ...] = ()
    # the analysis table, from the built module
    size_text: Callable[[nn.Module, tuple[int, ...], tuple[int, ...]], str] = _same_shape
    params_text: Callable[[nn.Module], str] = lambda module: "0"
    macs: Callable[[nn.Module, tuple[int, ...]], int] = lambda module, out_shape: 0
    torchinfo_extra: Callable[[nn.Module, tuple[int, ...]], int] = _own_params
    kernel_text: Callable[[nn.Module], str] = lambda module: ""
    note: Callable[[nn.Module], str] = lambda module: ""

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def params(self, layer: dict[str, Any]) -> dict[str, Any]:
        """Every field of a (validated) layer of this type, with defaults filled in."""
        return {f.name: layer.get(f.name, f.default) for f in self.fields}

    def settings(self, layer: dict[str, Any]) -> dict[str, Any]:
        """``params`` with what follows from other fields filled in too (a pool's stride: its kernel)."""
        p = self.params(layer)
        return self.derive(p) if self.derive else p

    def make(self, given: LayerInput, layer: dict[str, Any]) -> nn.Module:
        """The torch module for ``layer`` and the input ``given`` (raises ``ArchitectureError`` if it cannot fit)."""
        if self.build is None:
            return self.module()
        return self.build(given, self.settings(layer))

    def code_args(self, layer: dict[str, Any], in_shape: tuple[int, ...]) -> list[tuple[str, Any]]:
        """The constructor's keyword arguments in generated code, in order: the input size, then each field
        that is required, always written, or not its default, then the fixed ones."""
        p = self.params(layer)
        args = [(self.code_input, in_shape[0])] if self.code_input else []
        args += [(f.name, p[f.name]) for f in self.fields
                 if f.name != self.code_input and (f.name in self.code_always or p[f.name] != f.default)]
        return args + list(self.code_fixed)


@functools.cache
def layer_types() -> dict[str, LayerType]:
    """Every layer type by name, family by family, in the order the Build page offers them."""
    from cnnedu.arch.layers import activation, blocks, conv, dropout, linear, norm, output, pool, shape

    families = (conv, pool, norm, dropout, activation, shape, linear, output, blocks)
    return {t.name: t for family in families for t in family.TYPES}


def layer_type(name: str) -> LayerType:
    """The type called ``name`` (a name ``parse_spec`` accepted)."""
    return layer_types()[name]


@functools.cache
def _by_module() -> dict[type, LayerType]:
    return {t.module: t for t in layer_types().values() if t.module is not None}


def for_module(module: nn.Module) -> LayerType | None:
    """The type that builds modules of this class (a block's sub-layers too), or None."""
    return _by_module().get(type(module))


def settings(layer: dict[str, Any]) -> dict[str, Any]:
    """Every setting of a validated layer, defaults and derived values filled in: a pooling layer without a
    stride steps by its kernel size, so ``settings({"type": "MaxPool2d", "kernel_size": 2})["stride"] == 2``."""
    return layer_type(layer["type"]).settings(layer)
