"""Runs: every training run with its settings and results; overlay the curves of several runs to see what a
setting changes (the coursework's learning-rate and optimizer sweeps); cancel or delete a run."""

import streamlit as st

from cnnedu.errors import CnnEduError
from cnnedu.runs import store as runs
from cnnedu.ui.common import show_error
from cnnedu.ui.nav import ensure_navigation
from cnnedu.ui.runs_compare import COMPARE_KEY, compare, on_compare, table

ensure_navigation()
CONFIRM_KEY = "runs_confirm"  # the run whose deletion waits for a "yes"
NOTICE_KEY = "runs_notice"  # what the last action did, shown once


def overview(polling: bool) -> None:
    """The table and the comparison, redrawn every few seconds while a run is active."""
    try:
        all_runs = runs.list_runs()
    except CnnEduError as err:
        show_error(err)
        return
    if polling and not any(r.active for r in all_runs):
        st.rerun()
    st.dataframe(table(all_runs), hide_index=True, width="stretch", column_config={
        "lr": st.column_config.NumberColumn("lr", format="%g"),
        "normalize": st.column_config.CheckboxColumn("normalize"),
        "best test acc": st.column_config.TextColumn("best test acc",
                                                     help="The highest test accuracy after any epoch (— none yet)."),
        "final test acc": st.column_config.TextColumn("final test acc",
                                                      help="After the last epoch (the latest while running)."),
    })
    compare(all_runs)


# ------------------------------------------------------------------------------------------- actions


def ask_delete(run_id: str) -> None:
    st.session_state[CONFIRM_KEY] = run_id


def do_delete(run_id: str) -> None:
    st.session_state.pop(CONFIRM_KEY, None)
    try:
        runs.delete(run_id)
    except CnnEduError as err:
        st.session_state[NOTICE_KEY] = ("error", f"Run {run_id} was not deleted: {err}")
        return
    st.session_state[NOTICE_KEY] = ("success", f"Deleted run {run_id}.")
    if COMPARE_KEY in st.session_state:
        st.session_state[COMPARE_KEY] = [i for i in st.session_state[COMPARE_KEY] if i != run_id]
        on_compare()


def manage(all_runs: list[runs.Run]) -> None:
    st.subheader("Manage a run")
    by_id = {r.id: r for r in all_runs}
    cols = st.columns([3, 2, 2, 2], vertical_alignment="bottom")
    target = cols[0].selectbox("Run", list(by_id), key="runs_target",
                               format_func=lambda i: f"{i} ({by_id[i].status})")
    run = by_id[target]
    cols[1].page_link("pages/train.py", label="Watch on the Train page", icon=":material/model_training:", query_params={"run": target})
    if run.active:
        cols[2].button("Cancel run", icon=":material/stop_circle:", key="runs_cancel", on_click=runs.cancel, args=(target,),
                       disabled=run.cancel_requested)
        cols[3].button("Delete…", icon=":material/delete:", key="runs_ask_delete", disabled=True,
                       help="Cancel the run first: a run that is training cannot be deleted.")
        st.caption(f"Run {target} is {run.status}: cancel it first, then delete it.")
        return
    if st.session_state.get(CONFIRM_KEY) == target:
        st.warning(f"Delete run **{target}**, its curves and its saved model? This cannot be undone.", icon=":material/delete:")
        yes, no, _ = st.columns([2, 2, 5])
        yes.button("Yes, delete it", type="primary", key="runs_yes_delete", on_click=do_delete, args=(target,))
        no.button("No, keep it", key="runs_no_delete", on_click=lambda: st.session_state.pop(CONFIRM_KEY, None))
    else:
        cols[3].button("Delete…", icon=":material/delete:", key="runs_ask_delete", on_click=ask_delete, args=(target,))


# ------------------------------------------------------------------------------------------------ page

st.title("Runs")
notice = st.session_state.pop(NOTICE_KEY, None)
if notice:
    (st.success if notice[0] == "success" else st.error)(notice[1])
try:
    everything = runs.list_runs()
except CnnEduError as err:
    show_error(err)
    st.stop()
if not everything:
    st.info("No training runs yet. Start one on the Train page, or from a terminal: "
            "`python -m cnnedu train --arch mnist-cnn --dataset synthetic --epochs 2`.", icon=":material/info:")
    st.page_link("pages/train.py", label="Go to the Train page", icon=":material/model_training:")
    st.stop()

st.caption("Every training run, newest first: its settings and results. Runs started here, from another tab "
           "or from the command line all land in the same store.")
if any(r.active for r in everything):
    st.fragment(run_every=2.0)(overview)(True)
else:
    overview(False)
manage(everything)
