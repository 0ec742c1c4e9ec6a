"""The Build page's editable table: one row per layer, ``type | name | settings``, and back to a spec.

Settings are written the way PyTorch's constructors read: ``out_channels=6, kernel_size=5, padding=2``.
Pairs may be written ``3x1``, ``(3, 1)`` or ``[3, 1]``. This module does not import streamlit, so the
conversion is tested like any other library code.
"""

from __future__ import annotations

import re
from typing import Any

from cnnedu.arch.layers.registry import REQUIRED, layer_types
from cnnedu.errors import SpecError

_PAIR_RE = re.compile(r"^[\[(]?\s*(-?\d+)\s*(?:[x×,]\s*(-?\d+))?\s*[\])]?$")
_ITEM_RE = re.compile(r"\s*(\w+)\s*=\s*(\[[^\]]*\]|\([^)]*\)|[^,\s]+)\s*,?")


def settings_text(layer: dict[str, Any]) -> str:
    """``{"type": "Conv2d", "out_channels": 6, "kernel_size": [3, 1]}`` → ``out_channels=6, kernel_size=3x1``."""
    parts = []
    for key, value in layer.items():
        if key in ("type", "name"):
            continue
        if isinstance(value, (list, tuple)):
            value = "x".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def parse_settings(index: int, type_name: str, text: str) -> dict[str, Any]:
    """``out_channels=6, kernel_size=5`` → ``{"out_channels": 6, "kernel_size": 5}``; SpecError names the
    part that cannot be read."""
    text = (text or "").strip()
    out: dict[str, Any] = {}
    pos = 0
    while pos < len(text):
        match = _ITEM_RE.match(text, pos)
        if not match:
            bad = text[pos:].strip().split(",")[0]
            raise SpecError(f"Layer {index} ({type_name}): cannot read '{bad}' in its settings.",
                            "Write key=value pairs separated by commas, e.g. out_channels=6, kernel_size=5.",
                            layer=index, field="settings")
        out[match.group(1)] = _value(match.group(2))
        pos = match.end()
    return out


def _value(raw: str) -> Any:
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null", ""):
        return None
    pair = _PAIR_RE.match(raw)
    if pair:
        first, second = int(pair.group(1)), pair.group(2)
        return first if second is None else [first, int(second)]
    try:
        return float(raw)
    except ValueError:
        return raw.strip("\"'")


def rows_from_layers(layers: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"type": layer["type"], "name": layer.get("name", ""), "settings": settings_text(layer)}
            for layer in layers]


def layers_from_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Table rows back to layer dicts (not yet validated: ``parse_spec`` does that). Empty rows are skipped."""
    layers = []
    for row in rows:
        type_name = (row.get("type") or "").strip()
        settings = row.get("settings") or ""
        if not type_name and not settings.strip():
            continue
        index = len(layers)
        if not type_name:
            raise SpecError(f"Layer {index} has settings but no type.", "Pick a type in the first column.",
                            layer=index, field="type")
        layer: dict[str, Any] = {"type": type_name}
        name = (row.get("name") or "").strip()
        if name:
            layer["name"] = name
        if type_name in layer_types():
            layer.update(parse_settings(index, type_name, settings))
        layers.append(layer)
    return layers


def field_help() -> list[dict[str, str]]:
    """One line per layer type: what it does and the settings it takes (with defaults)."""
    out = []
    for t in layer_types().values():
        fields = []
        for f in t.fields:
            if f.default is REQUIRED:
                fields.append(f"{f.name} (required)")
            elif f.default is None:
                fields.append(f"{f.name} (inferred)" if f.name.startswith(("in_", "num_")) else f.name)
            else:
                fields.append(f"{f.name}={str(f.default).lower() if isinstance(f.default, bool) else f.default}")
        out.append({"type": t.name, "what it does": t.help, "settings": ", ".join(fields) or "—"})
    return out
