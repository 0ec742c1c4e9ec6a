"""Streamlit pieces shared by the pages: the current build (kept in the URL so a reload loses nothing),
error display, the analysis table and totals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from cnnedu.arch.analysis import Analysis, analyze, human_bytes, human_count
from cnnedu.arch.codegen import pytorch_source
from cnnedu.arch.spec import Spec, parse_spec
from cnnedu.arch.zoo import PRESETS, preset_spec
from cnnedu.errors import CnnEduError
from cnnedu.ui.state import keep, the_build
from cnnedu.ui.text import plain

DEFAULT_PRESET = "lenet-cifar10"
CURRENT_BUILD = "(current build)"  # the network picker's option for the Build page's network


def current_build() -> dict[str, Any]:
    """The spec being built (cnnedu.ui.state keeps it; a coursework preset until the student changes it)."""
    return the_build(preset_spec(DEFAULT_PRESET).to_dict())


# What is the same for every student is worked out once per server: a class of 40 starting from the same
# coursework network, or editing towards the same one, shares one analysis and one code listing (the objects
# are shared, never changed by a page). Keyed on the spec's JSON text.
@st.cache_resource(max_entries=512, show_spinner=False)
def _analysis_of(spec_json: str) -> Analysis:
    return analyze(parse_spec(spec_json))


@st.cache_resource(max_entries=512, show_spinner=False)
def _source_of(spec_json: str) -> str:
    return pytorch_source(parse_spec(spec_json))


def analysis(spec: Spec) -> Analysis:
    """``analyze(spec)``, computed once per server for each network."""
    return _analysis_of(spec.to_json())


def code(spec: Spec) -> str:
    """``pytorch_source(spec)``, computed once per server for each network."""
    return _source_of(spec.to_json())


def show_error(err: CnnEduError, prefix: str = "") -> None:
    """An error a user caused, in a red box: shown literally (its message may quote a file's contents)."""
    st.error(plain(f"{prefix}{err}"), icon=":material/error:")


@dataclass(frozen=True)
class NetworkChoice:
    """The network picked on a page: a coursework preset, or the current build of the Build page."""

    key: str  # a preset id, or CURRENT_BUILD
    spec: Spec | None  # None when the current build is not a valid network

    @property
    def is_build(self) -> bool:
        return self.key == CURRENT_BUILD

    @property
    def arch(self) -> str | dict[str, Any]:
        """What a training run is given: the preset id, or the build's spec itself."""
        return self.spec.to_dict() if self.is_build and self.spec is not None else self.key

    @property
    def title(self) -> str:
        """How the run names the network: the preset id or the build's name."""
        return (self.spec.name if self.spec is not None else "current build") if self.is_build else self.key


def arch_picker(label: str = "Architecture", key: str = "arch", default: str = CURRENT_BUILD) -> NetworkChoice:
    """Pick a coursework preset or the current build (kept across pages); shows why the build is invalid."""
    options = [CURRENT_BUILD, *PRESETS]
    names = {CURRENT_BUILD: "Current build (from the Build page)",
             **{k: f"{p.title} — {k}" for k, p in PRESETS.items()}}
    keep(key, default)
    if st.session_state[key] not in options:
        st.session_state[key] = default
    choice = st.selectbox(label, options, format_func=names.get, key=key)
    if choice == CURRENT_BUILD:
        try:
            return NetworkChoice(choice, parse_spec(current_build()))
        except CnnEduError as err:
            show_error(err, "The current build is not valid: ")
            return NetworkChoice(choice, None)
    return NetworkChoice(choice, preset_spec(choice))


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
            "MACs": r.macs, "memory / image": human_bytes(r.activation_bytes),
            "MACs (torchinfo)": r.macs_torchinfo, "note": r.note})
    if result.error is not None:
        index = result.error.layer if result.error.layer is not None else len(result.spec.layers)
        name = result.spec.names()[index] if index < len(result.spec.layers) else "output"
        rows.append({"#": str(index), "layer": f"✗ {name}", "type": result.spec.layers[index]["type"]
                     if index < len(result.spec.layers) else "", "input": result.error.received or "",
                     "output": "—", "output size formula": str(result.error), "params": None,
                     "params formula": "", "MACs": None, "memory / image": "", "MACs (torchinfo)": None,
                     "note": ""})
    return pd.DataFrame(rows)


def analysis_columns() -> dict[str, Any]:
    """Column widths of the layer table that fit the numbers and formulas of the coursework nets."""
    text, number = st.column_config.TextColumn, st.column_config.NumberColumn
    return {"#": text(width=30), "layer": text(width=75), "type": text(width=85), "input": text(width=80),
            "output": text(width=80), "output size formula": text(width=220),
            "params": number(format="localized", width=100), "params formula": text(width=150),
            "MACs": number(format="localized", width=110, help="multiply-adds: products only, as in the papers"),
            "MACs (torchinfo)": number(format="localized", width=110, help=(
                "multiply-adds as torchinfo counts them: also each bias once per output position and "
                "BatchNorm's γ and β"))}


def show_totals(result: Analysis) -> None:
    t = result.totals
    cols = st.columns(5)
    cols[0].metric("Parameters", f"{t.params:,}", help="Learned weights and biases. BatchNorm's running "
                   "mean and variance are buffers, not parameters.")
    cols[1].metric("Trainable", f"{t.trainable_params:,}")
    cols[2].metric("Size (fp32)", human_bytes(t.param_bytes), help="4 bytes per parameter")
    cols[3].metric("Multiply-adds / image", human_count(t.macs), help=(
        "The papers' convention: the products of conv and linear layers only (MobileNet's 569 M). torchinfo "
        "also counts each bias once per output position and BatchNorm's γ and β."))
    cols[3].caption(f"torchinfo counts {human_count(t.macs_torchinfo)}")
    cols[4].metric("Activations / training image", human_bytes(t.activation_bytes),
                   help="Every layer's fp32 output is kept for the backward pass")
