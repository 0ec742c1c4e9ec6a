"""Experiments: the coursework's controlled comparisons, one click each. Pick one (grouped by document), read
what it tests, launch its runs (queued in the run store like any other), watch them fill in, and read our
numbers beside the document's and what the document concluded."""

import streamlit as st

from cnnedu.errors import CnnEduError
from cnnedu.experiments import runner
from cnnedu.ui import experiments_view as view
from cnnedu.ui.common import show_error
from cnnedu.ui.nav import ensure_navigation

ensure_navigation()
NOTICE_KEY = "exp_notice"


def results(exp_id: str, scale: str, polling: bool) -> None:
    """The table, the curves and the conclusion; redrawn every two seconds while its runs train."""
    try:
        result = runner.results(exp_id, scale)
    except CnnEduError as err:
        show_error(err)
        return
    if polling and result.done():
        st.rerun()  # the whole page: the button comes back
    view.show_table(result)
    view.show_curves(result)
    ids = [i for row in result.rows for i in row.run_ids]
    if ids:
        st.page_link("pages/runs.py", label="Compare these runs on the Runs page", icon=":material/monitoring:",
                     query_params={"compare": ",".join(ids)})


st.title("Experiments")
st.caption("What the coursework documents do with their networks: controlled comparisons where one setting "
           "changes. Run one and put our numbers beside the document's.")
exp, scale = view.pick()
view.describe(exp, scale)

notice = st.session_state.pop(NOTICE_KEY, None)
if isinstance(notice, CnnEduError):
    show_error(notice)
elif notice:
    st.success(notice, icon=":material/schedule:")

try:
    current = runner.results(exp.id, scale)
except CnnEduError as err:
    show_error(err)
    st.stop()
active = any(row.status in ("queued", "running") for row in current.rows)
if st.button(f"Run this experiment ({len(exp.values)} runs)", type="primary", icon=":material/play_arrow:",
             disabled=active, help="Its runs wait in the same queue as every other run." if not active
             else "Its runs are training: wait for them, or cancel them on the Runs page."):
    with st.spinner("Queuing its runs (and looking for its dataset)…"):
        try:
            ids = runner.launch(exp.id, scale)
            st.session_state[NOTICE_KEY] = f"Queued {len(ids)} runs: {', '.join(ids)}."
        except CnnEduError as err:
            st.session_state[NOTICE_KEY] = err
    st.rerun()  # the table shows the new runs, the button is disabled while they train

st.subheader("Result")
if active:
    st.fragment(run_every=2.0)(results)(exp.id, scale, True)
else:
    results(exp.id, scale, False)

st.subheader("What the document concluded")
st.markdown(exp.document_concluded)
st.subheader("What is known to be true")
st.markdown(exp.known_true)
