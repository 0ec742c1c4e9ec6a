"""Showing a string from a file, an upload or another user exactly as it is, in Streamlit's Markdown."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#~$&|])")
_SHORTCODE = re.compile(r":(?=[\w/+-]+:)")  # :smile: and :material/icon: would become pictures
_LINE_START = re.compile(r"^(\s*\d*)([-+=>.)])")  # "- ", "1. ", "> " at the start: a list or a quote


def plain(text: object) -> str:
    """``text`` as Streamlit's Markdown (st.markdown, st.caption, st.error, widget labels ...) shows it
    literally: no image (a class name ``![x](http://...)`` would make every viewer's browser fetch it), no
    Markdown link, no HTML, no bold, no emoji or icon short code, no formula, on one line. (A bare URL in
    the text is still made clickable by Streamlit's autolinker, whatever the escaping; nothing is fetched.)

    Use it for every string that comes from a file, an upload or another user: class names, file names,
    run and layer names, metadata values, and error messages that quote them."""
    one_line = " ".join(str(text).split())
    escaped = _SHORTCODE.sub(r"\\:", _MARKDOWN_SPECIAL.sub(r"\\\1", one_line))
    return _LINE_START.sub(r"\1\\\2", escaped, count=1)
