"""The app's pages in one place: their files, titles, URL paths and icons (app.py's navigation, the Home
page's links and the pages' own links all read this list), and the guard that keeps a deep link on a
freshly started server inside the navigation.

Why the guard: Streamlit also knows the older convention where every script in ``pages/`` is a page of its
own. On a freshly started server it does not yet know that app.py calls ``st.navigation``, so the very first
request for ``/build`` runs ``pages/build.py`` alone: no sidebar, no wide layout, no page config. Each page
calls ``ensure_navigation()`` first; in that one case it switches the old convention off and reruns, and the
rerun goes through app.py to the same page (Streamlit identifies a page by its URL path). (Drawing the frame
in place instead is not enough: the widgets of that first run get other ids than in the runs after it, so
the student's first edit would be dropped.)
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit import config
from streamlit.runtime.pages_manager import PagesManager

from cnnedu.ui.process import prepare_process
from cnnedu.ui.state import remember_widgets


@dataclass(frozen=True)
class PageInfo:
    path: str  # the script, relative to the repository root
    title: str
    url_path: str  # "" for the start page
    icon: str  # one of Streamlit's bundled Material icons: they render on every machine (emoji may not)


PAGES = [
    PageInfo("pages/home.py", "Home", "", ":material/home:"),
    PageInfo("pages/build.py", "Build", "build", ":material/construction:"),
    PageInfo("pages/check.py", "Check my answer", "check", ":material/fact_check:"),
    PageInfo("pages/train.py", "Train", "train", ":material/model_training:"),
    PageInfo("pages/runs.py", "Runs", "runs", ":material/monitoring:"),
    PageInfo("pages/experiments.py", "Experiments", "experiments", ":material/science:"),
    PageInfo("pages/inside.py", "Look inside", "inside", ":material/visibility:"),
    PageInfo("pages/predict.py", "Predict", "predict", ":material/online_prediction:"),
    PageInfo("pages/scratch.py", "From scratch", "scratch", ":material/calculate:"),
]
# A classroom projector is often 1280×720: less empty margin around the page so that the tables fit.
PROJECTOR_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding: 2.5rem 1.5rem 3rem 1.5rem; }
</style>"""
PAGE = {p.url_path or "home": p for p in PAGES}  # e.g. PAGE["train"].path


def frame() -> st.navigation:
    """What every run starts with: the page config, the sidebar navigation over PAGES and the sidebar's
    text. Returns the page to run (app.py runs it). The process's first run imports and freezes the heap
    (cnnedu/ui/process.py)."""
    prepare_process()
    st.set_page_config(page_title="cnnedu — CNN explorer", page_icon=":material/neurology:", layout="wide")
    page = st.navigation([st.Page(p.path, title=p.title, icon=p.icon, default=not p.url_path,
                                  **({"url_path": p.url_path} if p.url_path else {})) for p in PAGES])
    st.html(PROJECTOR_CSS)
    remember_widgets()
    with st.sidebar:
        st.caption("cnnedu: build the coursework CNNs, check your hand calculations, train, look inside, "
                   "export and predict.")
    return page


def ensure_navigation() -> None:
    """First line of every page: reruns through app.py when Streamlit ran this page by itself (see above)."""
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if config.get_option("global.appTest"):
            frame()  # AppTest switches the convention back on before every run: a rerun would drop clicks
        else:
            st.rerun()
