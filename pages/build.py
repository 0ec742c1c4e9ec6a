"""Build: pick a coursework network or start blank, edit its layers, and see every size and count live."""

import json

import pandas as pd
import streamlit as st

from cnnedu.arch.layers.registry import layer_types
from cnnedu.arch.spec import parse_spec
from cnnedu.arch.zoo import PRESETS, preset_spec
from cnnedu.errors import CnnEduError
from cnnedu.ui import build_editor as editor
from cnnedu.ui import common
from cnnedu.ui.common import analysis_columns, analysis_frame, current_build, show_error, show_totals
from cnnedu.ui.layer_table import field_help, layers_from_rows, rows_from_layers
from cnnedu.ui.nav import ensure_navigation
from cnnedu.ui.state import keep, set_the_build

ensure_navigation()
st.title("Build a network")
rows, table_key = editor.table()  # first: it may reopen the editor (a new version) when the page is opened again
build = current_build()
v = int(table_key.rsplit("_", 1)[1])


def on_start_from() -> None:
    choice = st.session_state.start_from
    if choice == "blank":
        editor.replace(editor.BLANK)
    elif choice in PRESETS:
        editor.replace(preset_spec(choice).to_dict())


# ---- where to start, and the input
upload_problem = None
top = st.columns([4, 1], vertical_alignment="bottom")
with top[0]:
    st.selectbox("Start from", ["—", "blank", *PRESETS], key="start_from", on_change=on_start_from,
                 format_func=lambda k: {"—": "keep the current build", "blank": "a blank network"}.get(
                     k, f"{PRESETS[k].title} ({k})" if k in PRESETS else k),
                 help="Every coursework network from the seed documents, or an empty one.")
    preset = next((p for p in PRESETS.values() if p.title == build.get("name")), None)
with top[1].popover("Upload a spec", icon=":material/upload:", width="stretch"):
    uploaded = st.file_uploader("Upload a spec (.json)", type=["json"], key=f"upload_{v}")
    if uploaded is not None:
        try:
            editor.replace(parse_spec(uploaded.getvalue()).to_dict())
            st.rerun()
        except CnnEduError as err:
            upload_problem = (err, uploaded.name)
if upload_problem:
    show_error(upload_problem[0], f"{upload_problem[1]}: ")
if preset:
    st.caption(f"**{preset.title}** — {preset.source}, {preset.task}. {preset.description}")

cols = st.columns([1, 1, 1, 1, 2])
c = cols[0].number_input("Channels", 1, 512, int(build["input_shape"][0]), key=f"c_{v}")
h = cols[1].number_input("Height", 1, 1024, int(build["input_shape"][1]), key=f"h_{v}")
w = cols[2].number_input("Width", 1, 1024, int(build["input_shape"][2]), key=f"w_{v}")
classes = cols[3].number_input("Classes", 1, 1000, int(build.get("num_classes", 10)), key=f"k_{v}")
name = cols[4].text_input("Name", build.get("name", "my-network"), key=f"n_{v}")

# ---- the layers, as the student edits them (drawn in the "Edit layers" tab, read here first)
status = st.container(key="build_status")  # errors and totals, filled in below once the table is read
keep("build_tab", "Edit layers")
tabs = st.tabs(["Edit layers", "Layer by layer", "PyTorch code", "Spec (JSON)"], key="build_tab")
with tabs[0]:
    st.caption("Double-click a cell to edit it; **+** above the table's right corner adds a row. Settings are "
               "written as in PyTorch: `out_channels=6, kernel_size=5, padding=2`. Input channels and "
               "features are worked out for you.")
    table = st.data_editor(
        pd.DataFrame(rows, columns=["type", "name", "settings"]),
        key=table_key, num_rows="dynamic", width="stretch", hide_index=False, placeholder="",
        height=min(35 * (max(len(rows), 10) + 4) + 3, 500),  # from the base: a new height resets the editor
        column_config={
            "type": st.column_config.SelectboxColumn("type", options=list(layer_types()), required=True,
                                                     width="small"),
            "name": st.column_config.TextColumn("name", help="optional; e.g. conv1", width="small"),
            "settings": st.column_config.TextColumn("settings", width="large"),
        })

spec, problem = None, None
try:
    edited = {"name": name or "my-network", "input_shape": [int(c), int(h), int(w)],
              "num_classes": int(classes), "layers": layers_from_rows(table.fillna("").to_dict("records"))}
    if edited != build:
        set_the_build(edited)  # keep the draft (also in the URL), even while it is invalid
        build = edited
    editor.seen(build)
    spec = parse_spec(edited)
except CnnEduError as err:
    problem = err

with tabs[0]:
    names = [f"{i}: {row['type']} {row['name'] or ''}".strip() for i, row in enumerate(rows_from_layers(build["layers"]))]
    if names:
        move = st.columns([3, 1, 1, 1, 1])
        pick = move[0].selectbox("Layer", range(len(names)), format_func=lambda i: names[i] if i < len(names) else "",
                                 key=f"move_{v}", label_visibility="collapsed")
        pick = min(pick or 0, len(names) - 1)
        move[1].button("Up", icon=":material/arrow_upward:", on_click=editor.move, args=(pick, -1),
                       width="stretch", disabled=pick == 0)
        move[2].button("Down", icon=":material/arrow_downward:", on_click=editor.move, args=(pick, 1),
                       width="stretch", disabled=pick == len(names) - 1)
        move[3].button("Duplicate", icon=":material/content_copy:", on_click=editor.duplicate, args=(pick,),
                       width="stretch")
        move[4].button("Delete", icon=":material/delete:", on_click=editor.delete, args=(pick,), width="stretch")
    with st.expander("Layer types and their settings"):
        st.dataframe(pd.DataFrame(field_help()), hide_index=True, width="stretch")

# ---- what the network does with its input: above the tabs' contents, so every edit shows its effect
result = common.analysis(spec) if spec is not None and spec.layers else None
with status:
    if problem is not None:
        show_error(problem)
    elif spec is not None and not spec.layers:
        st.info("This network has no layers yet: add one in **Edit layers** (the **+** above the table).",
                icon=":material/info:")
    elif result is not None:
        if result.error is not None:
            show_error(result.error, "This network does not fit together: ")
        for _, message in result.warnings:
            st.warning(message, icon=":material/warning:")
        if result.ok:
            show_totals(result)

with tabs[1]:
    if result is None:
        st.caption("The layer-by-layer table appears once the network is valid.")
    else:
        frame = analysis_frame(result)
        with st.container(key="build_analysis"):
            st.dataframe(frame, hide_index=True, width="stretch", height=min(35 * (len(frame) + 1) + 3, 520),
                         column_config=analysis_columns())
with tabs[2]:
    if result is not None and result.ok:
        source = common.code(spec)
        st.download_button("Download PyTorch code (.py)", source, f"{spec.name}.py", "text/x-python",
                           icon=":material/download:")
        st.code(source, language="python")
    else:
        st.caption("The code appears once the network is valid.")
with tabs[3]:
    if spec is not None:
        st.download_button("Download spec (.json)", spec.to_json(), f"{spec.name}.json", "application/json",
                           icon=":material/download:", disabled=not (result is not None and result.ok))
        st.code(json.dumps(spec.to_dict(), indent=2), language="json")
