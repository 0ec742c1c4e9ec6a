"""What a student has done survives a reload, a trip through the sidebar and a second tab.

Streamlit keeps ``st.session_state`` per browser tab and forgets it on a reload; it also forgets the value
of every widget that a run does not draw (leaving a page and coming back resets its widgets). This module
is the one home for keeping state anyway:

* ``url_get`` / ``url_set``: a value in the address bar (compact JSON, zlib + URL-safe base64 when it is
  not a plain word), so a reload or a link opened in another tab brings it back;
* ``keep(key, default)``: called before drawing a widget, makes its value survive leaving the page;
* ``the_build`` / ``set_the_build``: the network being built, which the Build, Check and Train pages all
  read. It lives in the session and in the address bar (``?spec=``) of every page, so a reload anywhere,
  or opening the Build page again after the sidebar dropped the parameters, finds it.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import streamlit as st

from cnnedu.errors import CnnEduError
from cnnedu.userinput import read_json

BUILD_KEY = "build_spec"  # the current build, a spec dict
_KEPT = "_kept_widgets"  # {widget key: its last value}, for the widgets registered with keep()
_MAX_PARAM = 60_000  # characters: longer values (or hostile links) are ignored


def encode(value: Any) -> str:
    """A JSON value as a short URL-safe string."""
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


def decode(text: str) -> Any:
    """The value of ``encode``; ValueError for anything else (a damaged or hand-edited link)."""
    if len(text) > _MAX_PARAM:
        raise ValueError("too long")
    try:
        raw = zlib.decompressobj().decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), 1_000_000)
        return read_json(raw, "The link")
    except (zlib.error, CnnEduError, TypeError, ValueError) as err:
        raise ValueError(str(err)) from err


def url_get(name: str, default: Any = None) -> Any:
    """The value kept under ``name`` in the address bar (``default`` when absent or unreadable)."""
    text = st.query_params.get(name)
    if not text:
        return default
    try:
        return decode(text)
    except ValueError:
        return default


def url_set(name: str, value: Any) -> None:
    """Keep ``value`` (any JSON value; None removes it) in the address bar under ``name``."""
    if value is None:
        st.query_params.pop(name, None)
        return
    text = encode(value)
    if st.query_params.get(name) != text:
        st.query_params[name] = text


def keep(key: str, default: Any) -> None:
    """Call just before drawing the widget ``key``: it shows its last value, also after the student left the
    page and came back (``remember_widgets`` at the start of every run saves it)."""
    kept = st.session_state.setdefault(_KEPT, {})
    if key not in st.session_state:
        st.session_state[key] = kept.get(key, default)
    kept.setdefault(key, st.session_state[key])


def remember_widgets() -> None:
    """At the start of every run (app.py's frame): save the value of each kept widget, which Streamlit is
    about to forget if this run does not draw it. Also puts the build back in the address bar."""
    kept = st.session_state.get(_KEPT, {})
    for key in kept:
        if key in st.session_state:
            kept[key] = st.session_state[key]
    if BUILD_KEY in st.session_state:
        url_set("spec", st.session_state[BUILD_KEY])


def the_build(default: dict[str, Any]) -> dict[str, Any]:
    """The spec being built: this tab's, else the address bar's (a reload, a link), else ``default``."""
    if BUILD_KEY not in st.session_state:
        linked = bool(st.query_params.get("spec"))
        spec = url_get("spec")  # None when it cannot be read (damaged, too deep, a 5,000-digit number)
        if linked and (spec is None or not _draft_shape(spec)):
            st.warning("The network in the address bar could not be read; starting from a coursework network.",
                       icon=":material/warning:")
            spec = None
        st.session_state[BUILD_KEY] = spec if spec is not None else default
    return st.session_state[BUILD_KEY]


def _draft_shape(spec: Any) -> bool:
    """Whether a value from a link has the shape of a (maybe invalid) build the Build page can show: layers
    a list of objects with a text type, input_shape three whole numbers. parse_spec judges the rest."""
    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list):
        return False
    shape = spec.get("input_shape")
    if not (isinstance(shape, list) and len(shape) == 3
            and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4096 for v in shape)):
        return False
    classes = spec.get("num_classes", 10)
    return (isinstance(classes, int) and not isinstance(classes, bool) and 1 <= classes <= 1000
            and all(isinstance(layer, dict) and isinstance(layer.get("type"), str) for layer in spec["layers"]))


def set_the_build(spec: dict[str, Any]) -> None:
    st.session_state[BUILD_KEY] = spec
    url_set("spec", spec)


def restore(key: str, value: Any) -> None:
    """Call before ``keep(key, ...)``: in a new session (a reload, the link opened in another tab) the widget
    ``key`` starts at ``value``, e.g. what ``url_get`` found; otherwise this does nothing."""
    if value is not None and key not in st.session_state and key not in st.session_state.get(_KEPT, {}):
        st.session_state[key] = value


_EDITORS = "_stable_editors"  # {name: {"data": the data given to the editor, "version": n}}


def editor_data(name: str, current: Any) -> tuple[Any, str]:
    """For an ``st.data_editor`` whose edits must survive: (the data to give it, its key).

    ``current`` is what the student has now (the values the editor returned last run, kept by the page).
    Rebuilding the editor's data from what it returned makes Streamlit drop its edits (streamlit issues
    7354 and 7749), so the data stays the same from run to run while the widget lives; only when the widget
    is new (the first run, a new session, back from another page, which made Streamlit forget it) is it
    taken from ``current``, under a new key.
    """
    editors = st.session_state.setdefault(_EDITORS, {})
    entry = editors.setdefault(name, {"data": current, "version": 0})
    key = f"{name}_{entry['version']}"
    if key not in st.session_state and entry["data"] != current:
        entry["data"], entry["version"] = current, entry["version"] + 1
        key = f"{name}_{entry['version']}"
    return entry["data"], key


def reset_editor(name: str, data: Any) -> None:
    """Give the editor ``name`` new data (e.g. in a button's callback: "fill in the document's answers"), under
    a new key. The page keeps ``data`` as its current value too."""
    editors = st.session_state.setdefault(_EDITORS, {})
    version = editors.get(name, {"version": 0})["version"] + 1
    editors[name] = {"data": data, "version": version}
