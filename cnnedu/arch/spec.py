"""The architecture language: a network as a plain, JSON-serialisable description.

A spec says what goes in (``input_shape`` = channels, height, width), how many classes come out, and the
layers in order. Each layer is a small dict such as ``{"type": "Conv2d", "out_channels": 6,
"kernel_size": 5}``. Input channels and features are worked out from the layer before, so a student
only writes what a layer *does*. ``parse_spec`` checks every field and names the first one that is wrong;
what each layer type takes comes from its record in cnnedu/arch/layers/ (``registry.layer_types()``).

Example::

    {"name": "LeNet", "input_shape": [3, 32, 32], "num_classes": 10,
     "layers": [{"type": "Conv2d", "out_channels": 6, "kernel_size": 5}, {"type": "ReLU"},
                {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"},
                {"type": "Linear", "out_features": 10}]}
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnedu.arch.layers.registry import REQUIRED, Field, layer_type, layer_types
from cnnedu.budgets import MAX_INPUT_SIDE, MAX_INPUT_VALUES, MAX_LAYERS, MAX_NAME, MAX_WHOLE
from cnnedu.errors import SpecError, shown
from cnnedu.userinput import read_json, read_text_file

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # used with fullmatch: no trailing newline
_TOP_KEYS = ("name", "input_shape", "num_classes", "layers", "description")


@dataclass
class Spec:
    """A validated architecture. ``layers`` holds the fields the user gave (defaults left out)."""

    input_shape: tuple[int, int, int]
    num_classes: int
    layers: list[dict[str, Any]] = field(default_factory=list)
    name: str = "my-network"
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "input_shape": list(self.input_shape),
                               "num_classes": self.num_classes}
        if self.description:
            out["description"] = self.description
        out["layers"] = [_jsonable(dict(layer)) for layer in self.layers]
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def names(self) -> list[str]:
        """The name of every layer: the given one, else the type's prefix and a counter (conv1, fc2)."""
        return layer_names(self.layers)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def layer_names(layers: list[dict[str, Any]]) -> list[str]:
    """The given names, and for unnamed layers the type's prefix and a counter (conv1, fc2) that skips
    names already given, so adding an unnamed Linear to a network with an "fc1" makes it "fc2"."""
    taken = {layer["name"] for layer in layers if layer.get("name")}
    counts: dict[str, int] = {}
    names = []
    for layer in layers:
        if layer.get("name"):
            names.append(layer["name"])
            continue
        prefix = layer_type(layer["type"]).prefix
        counts[prefix] = counts.get(prefix, 0) + 1
        while f"{prefix}{counts[prefix]}" in taken:
            counts[prefix] += 1
        names.append(f"{prefix}{counts[prefix]}")
        taken.add(names[-1])
    return names


def params(layer: dict[str, Any]) -> dict[str, Any]:
    """Every field of a (validated) layer, with defaults filled in."""
    return layer_type(layer["type"]).params(layer)


# ---------------------------------------------------------------------------------------------- parsing


def parse_spec(obj: dict[str, Any] | str | Spec) -> Spec:
    """Check a spec (a dict, a JSON string, or a Spec) and return a ``Spec``.

    Raises ``SpecError`` naming the first layer and field that is wrong, with a fix where one is clear.
    """
    if isinstance(obj, Spec):
        obj = obj.to_dict()
    if isinstance(obj, (str, bytes)):
        obj = read_json(obj, "The spec", SpecError)
    if not isinstance(obj, dict):
        raise SpecError("A spec must be a JSON object with input_shape, num_classes and layers.")
    for key in obj:
        if key not in _TOP_KEYS:
            raise SpecError(f"Unknown key '{key}' in the spec.", _did_you_mean(key, _TOP_KEYS), field=key)
    input_shape = _input_shape(obj.get("input_shape"))
    num_classes = obj.get("num_classes", 10)
    if not _is_int(num_classes) or num_classes < 1:
        raise SpecError(f"num_classes must be a whole number ≥ 1, got {shown(num_classes)}.", field="num_classes")
    if num_classes > MAX_WHOLE:
        raise _too_big("num_classes", None, "num_classes", num_classes)
    layers = obj.get("layers", [])
    if not isinstance(layers, list):
        raise SpecError("layers must be a list of layer objects.", field="layers")
    if len(layers) > MAX_LAYERS:
        raise SpecError(f"The spec has {len(layers):,} layers; cnnedu builds at most {MAX_LAYERS:,}.",
                        "Check that it is the right file.", field="layers")
    checked = [_parse_layer(i, layer) for i, layer in enumerate(layers)]
    names = layer_names(checked)
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise SpecError(f"Layer {i} is named '{name}' like layer {names.index(name)}.",
                            "Give every layer its own name, or leave names empty.", layer=i, field="name")
    name = obj.get("name") or "my-network"
    if not isinstance(name, str):
        raise SpecError("name must be text.", field="name")
    return Spec(input_shape, int(num_classes), checked, name, str(obj.get("description") or ""))


def load_spec_file(path: str | Path) -> Spec:
    """Read a spec from a .json file."""
    return parse_spec(read_text_file(path, "spec file", SpecError))


def _input_shape(value: Any) -> tuple[int, int, int]:
    if value is None:
        raise SpecError("The spec needs an input_shape [channels, height, width], e.g. [1, 28, 28].",
                        field="input_shape")
    if (not isinstance(value, (list, tuple)) or len(value) != 3
            or not all(_is_int(v) and v >= 1 for v in value)):
        raise SpecError(f"input_shape must be three whole numbers ≥ 1 [channels, height, width], "
                        f"got {shown(value)}.", field="input_shape")
    if max(value) > MAX_INPUT_SIDE:
        raise SpecError(f"input_shape {list(value)} is too large for cnnedu (at most {MAX_INPUT_SIDE} per side).",
                        field="input_shape")
    if value[0] * value[1] * value[2] > MAX_INPUT_VALUES:
        raise SpecError(f"input_shape {list(value)} is too large for cnnedu: {value[0] * value[1] * value[2]:,} "
                        f"values per image, at most {MAX_INPUT_VALUES:,} (3×2048×2048).",
                        "Use fewer channels or a smaller image.", field="input_shape")
    return (int(value[0]), int(value[1]), int(value[2]))


def _parse_layer(index: int, layer: Any) -> dict[str, Any]:
    if not isinstance(layer, dict):
        raise SpecError(f"Layer {index} must be an object like {{\"type\": \"ReLU\"}}, got {shown(layer)}.",
                        layer=index)
    type_name = layer.get("type")
    types = layer_types()
    if not isinstance(type_name, str) and type_name is not None:
        raise SpecError(f"Layer {index}: type must be the name of a layer type, got {shown(type_name)}.",
                        f"Use one of: {', '.join(types)}.", layer=index, field="type")
    if type_name not in types:
        if not type_name:
            raise SpecError(f"Layer {index} has no type.", f"Use one of: {', '.join(types)}.",
                            layer=index, field="type")
        by_lower = {t.lower(): t for t in types}
        if isinstance(type_name, str) and type_name.lower() in by_lower:
            hint = f"Did you mean '{by_lower[type_name.lower()]}'? Types are case-sensitive."
        else:
            hint = _did_you_mean(str(type_name), types) or f"Use one of: {', '.join(types)}."
        raise SpecError(f"Layer {index} has an unknown type '{type_name}'.", hint, layer=index, field="type")
    kind = types[type_name]
    out: dict[str, Any] = {"type": type_name}
    known = {f.name for f in kind.fields}
    for key, value in layer.items():
        if key in ("type",):
            continue
        if key == "name":
            if value in (None, ""):
                continue
            if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
                raise SpecError(f"Layer {index} ({type_name}): name {shown(value)} must start with a letter and "
                                "use only letters, digits and _.", layer=index, field="name")
            if len(value) > MAX_NAME:
                raise SpecError(f"Layer {index} ({type_name}): the name is {len(value)} characters long; at most "
                                f"{MAX_NAME} are allowed.", "Choose a shorter name.", layer=index, field="name")
            if _taken_by_pytorch(value):
                raise SpecError(f"Layer {index} ({type_name}): the name '{value}' is taken by PyTorch (every "
                                f"network has a '{value}' attribute).", f"Choose another name, e.g. '{value}1'.",
                                layer=index, field="name")
            out["name"] = value
            continue
        if key not in known:
            fields = ", ".join(sorted(known)) or "no settings"
            raise SpecError(f"Layer {index} ({type_name}) has an unknown field '{key}'.",
                            _did_you_mean(key, known) or f"{type_name} takes: {fields}.",
                            layer=index, field=key)
    for f in kind.fields:
        if f.name in layer and layer[f.name] is not None:
            out[f.name] = _check_value(index, type_name, f, layer[f.name])
        elif f.default is REQUIRED:
            raise SpecError(f"Layer {index} ({type_name}) needs '{f.name}' ({f.help}).",
                            layer=index, field=f.name)
    if kind.check:
        kind.check(index, type_name, kind.params(out))
    return out


def _check_value(index: int, type_name: str, f: Field, value: Any) -> Any:
    where = f"Layer {index} ({type_name}): {f.name}"

    def fail(need: str) -> SpecError:
        return SpecError(f"{where} must be {need}, got {shown(value)}.", layer=index, field=f.name)

    def in_range(v: float) -> bool:
        if f.low is not None and v < f.low:
            return False
        return f.high is None or v < f.high or (v == f.high and f.high_inclusive)

    def range_text() -> str:
        if f.high is None:
            return f"≥ {f.low:g}" if f.low is not None else "a number"
        close = "]" if f.high_inclusive else ")"
        return f"in [{f.low:g}, {f.high:g}{close}"

    if f.kind == "bool":
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if f.kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise fail("a number")
        if not in_range(value):
            raise fail(f"a number {range_text()}")
        return float(value) if isinstance(value, float) else value
    if f.kind == "int":
        if not _is_int(value) or not in_range(value):
            raise fail(f"a whole number {range_text()}")
        if abs(value) > MAX_WHOLE:
            raise _too_big(where, index, f.name, value)
        return int(value)
    if f.kind == "padding" and isinstance(value, str):
        if value in ("same", "valid"):
            return value
        raise fail('a whole number ≥ 0, [h, w], "same" or "valid"')
    # "pair" and numeric "padding": an int or [h, w]
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(items) not in (1, 2) or not all(_is_int(v) and in_range(v) for v in items):
        raise fail(f"a whole number {range_text()} or a pair [h, w] of them")
    if any(abs(v) > MAX_WHOLE for v in items):
        raise _too_big(where, index, f.name, max(items, key=abs))
    if len(items) == 1 or items[0] == items[1]:
        return int(items[0])
    return [int(items[0]), int(items[1])]


def _taken_by_pytorch(name: str) -> bool:
    """Names such as 'train', 'forward' or 'to' (methods of every nn.Module) and '_modules', '_parameters'
    or 'training' (what every module holds) cannot name a layer: PyTorch refuses or breaks on them."""
    return name in _module_attributes()


@functools.cache
def _module_attributes() -> frozenset[str]:
    """Here, not at the top: importing this module (the CLI's parser does) stays free of torch."""
    from torch import nn

    return frozenset(dir(nn.Sequential()))


def pair(value: Any) -> tuple[int, int]:
    """An int or [h, w] as a (h, w) tuple."""
    if isinstance(value, (list, tuple)):
        return (int(value[0]), int(value[1]))
    return (int(value), int(value))


def _too_big(where: str, index: int | None, field: str, value: Any) -> SpecError:
    shown = f"{value:,.0f}" if abs(value) < 1e18 else f"a number with {len(str(int(value)))} digits"
    return SpecError(f"{where} is {shown}, far more than any network can hold: at most {MAX_WHOLE:,}.",
                     "Check for a typing mistake (an extra digit?).", layer=index, field=field)


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int)


def _did_you_mean(word: str, options: Any) -> str | None:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"Did you mean '{match[0]}'?" if match else None
