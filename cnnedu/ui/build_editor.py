"""The Build page's layer table and its buttons, on top of the one build kept by cnnedu.ui.state.

The editor is an ``st.data_editor``. Streamlit identifies a dynamic-rows editor by the data it is given:
if that data were rebuilt from the editor's own output after every edit, Streamlit would see a new widget,
reset it in the browser and drop the student's next edit (streamlit issues 7354 and 7749). So the editor is
opened on a *base* (the layers as they were when the build was last replaced) and shows the student's edits
on top of it; the base changes only when the whole build is replaced: a preset, a blank network, an upload,
a move, a duplicate, a delete, coming back to the page (Streamlit has forgotten the edits then, and the
build already holds them), or a change of the build made elsewhere (``seen`` records what the table made). The buttons' callbacks read the build at the moment of the click, so they never
undo the edit made just before.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from cnnedu.ui.common import current_build
from cnnedu.ui.layer_table import rows_from_layers
from cnnedu.ui.state import editor_data, reset_editor, set_the_build

_NAME = "layers"  # the editor's key is layers_<version> (cnnedu.ui.state.editor_data keeps its data stable)
_SEEN = "build_table_seen"  # the build as the table and the boxes made it in the last run
BLANK = {"name": "my-network", "input_shape": [1, 28, 28], "num_classes": 10,
         "layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 10}]}


def table() -> tuple[list[dict[str, str]], str]:
    """The rows to open the editor with and its key (stable while the student edits; see above)."""
    build = current_build()
    rows = rows_from_layers(build["layers"])
    if st.session_state.get(_SEEN, build) != build:  # changed elsewhere (another page, a link)
        reset_editor(_NAME, rows)
    st.session_state[_SEEN] = build
    return editor_data(_NAME, rows)


def version() -> int:
    """The editor's version: the input boxes share it, so they too are reopened on a replaced build."""
    return int(table_key().rsplit("_", 1)[1])


def table_key() -> str:
    return editor_data(_NAME, rows_from_layers(current_build()["layers"]))[1]


def seen(build: dict[str, Any]) -> None:
    """Record the build as the table and the boxes made it in this run."""
    st.session_state[_SEEN] = build


def replace(spec: dict[str, Any]) -> None:
    """Replace the whole build and reopen the editor (and the input boxes) on it."""
    set_the_build(spec)
    st.session_state[_SEEN] = spec
    reset_editor(_NAME, rows_from_layers(spec["layers"]))


def _layers() -> list[dict[str, Any]]:
    return [dict(layer) for layer in current_build()["layers"]]


def move(index: int, offset: int) -> None:
    layers = _layers()
    j = index + offset
    if 0 <= index < len(layers) and 0 <= j < len(layers):
        layers[index], layers[j] = layers[j], layers[index]
        replace({**current_build(), "layers": layers})
        st.session_state[f"move_{version()}"] = j  # the moved layer stays selected


def duplicate(index: int) -> None:
    layers = _layers()
    if 0 <= index < len(layers):
        copy = {k: v for k, v in layers[index].items() if k != "name"}  # names must stay unique
        replace({**current_build(), "layers": layers[:index + 1] + [copy] + layers[index + 1:]})
        st.session_state[f"move_{version()}"] = index + 1


def delete(index: int) -> None:
    layers = _layers()
    if 0 <= index < len(layers):
        replace({**current_build(), "layers": layers[:index] + layers[index + 1:]})
        st.session_state[f"move_{version()}"] = max(0, min(index, len(layers) - 2))
