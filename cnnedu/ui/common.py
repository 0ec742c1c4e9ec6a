"""Streamlit pieces shared by the pages: the current build (kept in the URL so a reload loses nothing),
error display, the analysis table and totals."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import pandas as pd
import streamlit as st

from cnnedu.analysis import Analysis, human_bytes, human_count
from cnnedu.errors import CnnEduError
from cnnedu.spec import Spec, parse_spec
from cnnedu.zoo import PRESETS, preset_spec

BUILD_KEY = "build_spec"  # the current build, as a spec dict, in st.session_state
DEFAULT_PRESET = "lenet-cifar10"


def encode_spec(spec: dict[str, Any]) -> str:
    """A spec as a short URL-safe string (zlib + base64), so the current build lives in the address bar."""
    raw = json.dumps(spec, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


def decode_spec(text: str) -> dict[str, Any]:
    padded = text + "=" * (-len(text) % 4)
    return json.loads(zlib.decompress(base64.urlsafe_b64decode(padded.encode())))


def current_build() -> dict[str, Any]:
    """The spec being built: from this session, else from the URL (after a reload), else a preset."""
    if BUILD_KEY not in st.session_state:
        spec = None
        if "spec" in st.query_params:
            try:
                spec = decode_spec(st.query_params["spec"])
            except (ValueError, zlib.error, json.JSONDecodeError):
                st.warning("The spec in the address bar could not be read; starting from a preset instead.")
        st.session_state[BUILD_KEY] = spec or preset_spec(DEFAULT_PRESET).to_dict()
    return st.session_state[BUILD_KEY]


def set_build(spec: dict[str, Any]) -> None:
    st.session_state[BUILD_KEY] = spec
    st.query_params["spec"] = encode_spec(spec)


def show_error(err: CnnEduError, prefix: str = "") -> None:
    st.error(f"{prefix}{err}", icon="🚫")


def arch_picker(label: str = "Architecture", key: str = "arch") -> tuple[str, Spec | None]:
    """Pick a coursework preset or the current build. Returns (label for the run, validated spec or None)."""
    options = ["(current build)", *PRESETS]
    names = {"(current build)": "Current build (from the Build page)",
             **{k: f"{p.title} — {k}" for k, p in PRESETS.items()}}
    choice = st.selectbox(label, options, format_func=names.get, key=key)
    if choice == "(current build)":
        try:
            spec = parse_spec(current_build())
        except CnnEduError as err:
            show_error(err, "The current build is not valid: ")
            return choice, None
        return spec.name, spec
    return choice, preset_spec(choice)


def analysis_frame(result: Analysis) -> pd.DataFrame:
    """The analysis as a table: sub-layers of a block indented under it, a row for the failing layer."""
    def shape(s: tuple[int, ...]) -> str:
        return "×".join(map(str, s))

    rows = []
    for r in result.rows:
        rows.append({
            "#": str(r.index) if r.depth == 0 else "",
            "layer": r.name if r.depth == 0 else f"  └ {r.name.split('.', 1)[1]}",
            "type": r.type, "input": shape(r.input_shape), "output": shape(r.output_shape),
            "output size formula": r.formula, "params": r.params, "params formula": r.params_formula,
            "MACs": r.macs, "memory / image": human_bytes(r.activation_bytes), "note": r.note})
    if result.error is not None:
        index = result.error.layer if result.error.layer is not None else len(result.spec.layers)
        name = result.spec.names()[index] if index < len(result.spec.layers) else "output"
        rows.append({"#": str(index), "layer": f"❌ {name}", "type": result.spec.layers[index]["type"]
                     if index < len(result.spec.layers) else "", "input": result.error.received or "",
                     "output": "—", "output size formula": str(result.error), "params": None,
                     "params formula": "", "MACs": None, "memory / image": "", "note": ""})
    return pd.DataFrame(rows)


def show_totals(result: Analysis) -> None:
    t = result.totals
    cols = st.columns(5)
    cols[0].metric("Parameters", f"{t.params:,}", help="Learned weights and biases. BatchNorm's running "
                   "mean and variance are buffers, not parameters.")
    cols[1].metric("Trainable", f"{t.trainable_params:,}")
    cols[2].metric("Size (fp32)", human_bytes(t.param_bytes), help="4 bytes per parameter")
    cols[3].metric("Multiply-adds / image", human_count(t.macs), help="Products in conv and linear layers")
    cols[4].metric("Activations / training image", human_bytes(t.activation_bytes),
                   help="Every layer's fp32 output is kept for the backward pass")
