"""Build: pick a coursework network or start blank, edit its layers, and see every size and count live."""

import json

import pandas as pd
import streamlit as st

from cnnedu.analysis import analyze
from cnnedu.codegen import pytorch_source
from cnnedu.errors import CnnEduError
from cnnedu.spec import LAYER_TYPES, parse_spec
from cnnedu.ui.common import analysis_frame, current_build, show_error, show_totals
from cnnedu.ui.layer_table import field_help, layers_from_rows, rows_from_layers
from cnnedu.ui.nav import ensure_navigation
from cnnedu.ui.state import set_the_build as set_build
from cnnedu.zoo import PRESETS, preset_spec

ensure_navigation()
st.title("Build a network")
build = current_build()
st.session_state.setdefault("table_version", 0)


def load(spec: dict) -> None:
    """Replace the build (a preset, a blank one, an upload) and redraw the table from it."""
    set_build(spec)
    st.session_state.table_version += 1


def on_preset() -> None:
    choice = st.session_state.start_from
    if choice == "blank":
        load({"name": "my-network", "input_shape": [1, 28, 28], "num_classes": 10,
              "layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 10}]})
    elif choice in PRESETS:
        load(preset_spec(choice).to_dict())


top = st.columns([3, 2])
with top[0]:
    st.selectbox("Start from", ["—", "blank", *PRESETS], key="start_from", on_change=on_preset,
                 format_func=lambda k: {"—": "keep the current build", "blank": "a blank network"}.get(
                     k, f"{PRESETS[k].title} ({k})" if k in PRESETS else k),
                 help="Every coursework network from the seed documents, or an empty one.")
    preset = next((p for p in PRESETS.values() if p.title == build.get("name")), None)
    if preset:
        st.caption(f"**{preset.title}** — {preset.source}, {preset.task}. {preset.description}")
with top[1]:
    uploaded = st.file_uploader("Upload a spec (.json)", type=["json"], key=f"upload_{st.session_state.table_version}")
    if uploaded is not None:
        try:
            spec = parse_spec(uploaded.getvalue().decode("utf-8", errors="replace"))
        except CnnEduError as err:
            show_error(err, f"{uploaded.name}: ")
        else:
            load(spec.to_dict())
            st.rerun()

# ---- input and output
cols = st.columns(5)
c = cols[0].number_input("Channels", 1, 512, int(build["input_shape"][0]), key=f"c_{st.session_state.table_version}")
h = cols[1].number_input("Height", 1, 1024, int(build["input_shape"][1]), key=f"h_{st.session_state.table_version}")
w = cols[2].number_input("Width", 1, 1024, int(build["input_shape"][2]), key=f"w_{st.session_state.table_version}")
classes = cols[3].number_input("Classes", 1, 1000, int(build.get("num_classes", 10)),
                               key=f"k_{st.session_state.table_version}")
name = cols[4].text_input("Name", build.get("name", "my-network"), key=f"n_{st.session_state.table_version}")

# ---- the layers
st.subheader("Layers")
st.caption("Edit a cell, add a row at the bottom, or select rows and delete them. Settings are written "
           "as in PyTorch: `out_channels=6, kernel_size=5, padding=2`. Input channels and features are "
           "worked out for you.")
table = st.data_editor(
    pd.DataFrame(rows_from_layers(build["layers"]), columns=["type", "name", "settings"]),
    key=f"layers_{st.session_state.table_version}", num_rows="dynamic", width="stretch", hide_index=False,
    height=min(36 * (len(build["layers"]) + 2) + 3, 720),
    column_config={
        "type": st.column_config.SelectboxColumn("type", options=list(LAYER_TYPES), required=True, width="small"),
        "name": st.column_config.TextColumn("name", help="optional; e.g. conv1", width="small"),
        "settings": st.column_config.TextColumn("settings", width="large"),
    })

edited = None
try:
    layers = layers_from_rows(table.fillna("").to_dict("records"))
    edited = {"name": name or "my-network", "input_shape": [int(c), int(h), int(w)],
              "num_classes": int(classes), "layers": layers}
    spec = parse_spec(edited)
except CnnEduError as err:
    show_error(err)
    spec = None
if edited is not None and edited != build:
    set_build(edited)  # keep the draft (also in the URL) even while it is invalid

move = st.columns([3, 1, 1, 1])
names = [f"{i}: {row['type']} {row['name'] or ''}".strip() for i, row in enumerate(rows_from_layers(build["layers"]))]
if names:
    pick = move[0].selectbox("Move a layer", range(len(names)), format_func=lambda i: names[i],
                             key=f"move_{st.session_state.table_version}", label_visibility="collapsed")

    def shift(offset: int) -> None:
        layers = list(build["layers"])
        j = pick + offset
        if 0 <= j < len(layers):
            layers[pick], layers[j] = layers[j], layers[pick]
            load({**build, "layers": layers})

    move[1].button("↑ up", on_click=shift, args=(-1,), width="stretch", disabled=pick == 0)
    move[2].button("↓ down", on_click=shift, args=(1,), width="stretch", disabled=pick == len(names) - 1)
    move[3].button("⧉ duplicate", width="stretch", on_click=lambda: load(
        {**build, "layers": build["layers"][:pick + 1] + [dict(build["layers"][pick])] + build["layers"][pick + 1:]}))

with st.expander("Layer types and their settings"):
    st.dataframe(pd.DataFrame(field_help()), hide_index=True, width="stretch")

# ---- the analysis
if spec is not None:
    result = analyze(spec)
    st.subheader("Layer by layer")
    if result.error is not None:
        show_error(result.error, "This network does not fit together: ")
    for _, message in result.warnings:
        st.warning(message, icon=":material/warning:")
    frame = analysis_frame(result)
    st.dataframe(frame, hide_index=True, width="stretch", height=min(35 * (len(frame) + 1) + 3, 900), column_config={
        "params": st.column_config.NumberColumn(format="localized"),
        "MACs": st.column_config.NumberColumn(format="localized")})
    if result.ok:
        show_totals(result)
        downloads = st.columns(2)
        downloads[0].download_button("Download spec (.json)", spec.to_json(), f"{spec.name}.json",
                                     "application/json", width="stretch")
        downloads[1].download_button("Download PyTorch code (.py)", pytorch_source(spec), f"{spec.name}.py",
                                     "text/x-python", width="stretch")
        with st.expander("PyTorch code"):
            st.code(pytorch_source(spec), language="python")
    with st.expander("Spec as JSON"):
        st.code(json.dumps(spec.to_dict(), indent=2), language="json")
