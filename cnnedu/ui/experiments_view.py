"""The Experiments page's parts: picking an experiment (kept in the address bar, ``?exp=``), its result
table beside the document's numbers, and its runs' curves overlaid.

The experiments themselves (what varies, what the document reported and concluded) are data in
cnnedu/experiments/catalog.py; their runs live in the run store like any other run (cnnedu/experiments/runner.py).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cnnedu.experiments.catalog import EXPERIMENTS, by_document
from cnnedu.experiments.experiment import SCALES as SCALE_IDS
from cnnedu.experiments.experiment import Experiment
from cnnedu.experiments.runner import Result
from cnnedu.runs import store as runs
from cnnedu.ui.charts import compare_box_height, compare_chart
from cnnedu.ui.runs_compare import curves_of
from cnnedu.ui.state import keep, restore, url_get, url_set

EXP_KEY = "exp_pick"  # the chosen experiment's id (also ?exp= in the address bar)
SCALE_KEY = "exp_scale"
_SCALE_TEXT = {"quick": "quick", "classroom": "classroom", "document": "document"}
SCALES = {s: _SCALE_TEXT.get(s, s) for s in SCALE_IDS}


DOC_KEY = "exp_document"


def _keep_in_url() -> None:
    url_set("exp", st.session_state[EXP_KEY])
    url_set("scale", st.session_state[SCALE_KEY])


def _on_document() -> None:
    """Another document: its first experiment."""
    st.session_state[EXP_KEY] = by_document()[st.session_state[DOC_KEY]][0].id
    _keep_in_url()


def pick() -> tuple[Experiment, str]:
    """The document, the experiment and the scale, as the student chose them (a reload or a link keeps them)."""
    linked = url_get("exp")
    if linked is not None and linked not in EXPERIMENTS and EXP_KEY not in st.session_state:
        st.warning(f"The link names an experiment that does not exist ({str(linked)[:60]!r}); showing the first "
                   "one. Pick one below.", icon=":material/warning:")
    restore(EXP_KEY, linked if linked in EXPERIMENTS else None)
    restore(SCALE_KEY, url_get("scale") if url_get("scale") in SCALES else None)
    keep(EXP_KEY, next(iter(EXPERIMENTS)))
    keep(SCALE_KEY, "classroom")
    documents = by_document()
    doc_of = {e.id: doc for doc, exps in documents.items() for e in exps}
    keep(DOC_KEY, doc_of[st.session_state[EXP_KEY]])
    if st.session_state[EXP_KEY] not in EXPERIMENTS or doc_of[st.session_state[EXP_KEY]] != st.session_state[DOC_KEY]:
        st.session_state[EXP_KEY] = documents[st.session_state[DOC_KEY]][0].id
    cols = st.columns([4, 5, 1.6])
    cols[0].selectbox("Document", list(documents), key=DOC_KEY, on_change=_on_document,
                      help="The five coursework documents (seeds 000–004) and the experiments each one runs.")
    titles = {e.id: f"{e.task}: {e.title}" for e in EXPERIMENTS.values()}
    cols[1].selectbox("Experiment", [e.id for e in documents[st.session_state[DOC_KEY]]], key=EXP_KEY,
                      format_func=titles.get, on_change=_keep_in_url)
    cols[2].selectbox("Scale", list(SCALES), key=SCALE_KEY, format_func=SCALES.get, on_change=_keep_in_url,
                      help="quick: one epoch on a few hundred images, to see the experiment run (its numbers mean "
                           "little); classroom: fewer epochs and images than the document, a few minutes on a "
                           "laptop's CPU; document: the document's own epochs and data.")
    _keep_in_url()
    return EXPERIMENTS[st.session_state[EXP_KEY]], st.session_state[SCALE_KEY]


def describe(exp: Experiment, scale: str) -> None:
    values = ", ".join(exp.labels)
    st.markdown(f"**{exp.document}, {exp.task}.** {exp.question}  \n**What varies:** `{exp.vary}` = {values}. "
                "Every other setting, and the seed, is the same in all its runs.")
    if scale != "document":
        st.caption(f"{scale.capitalize()} scale: {exp.scale_note(scale)}.")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}%"


def result_frame(result: Result) -> pd.DataFrame:
    """One row per value: its status and progress, our test accuracy and the document's (with the parameter
    count and the normalisation used when the runs report them)."""
    rows = []
    for row in result.rows:
        item = {result.experiment.vary: row.label, "status": row.status, "progress": row.progress,
                "our test acc": _percent(row.test_acc) + ("" if row.spread is None else f" ± {row.spread:.2f}"),
                "document's": _percent(row.reported)}
        if any(r.params for r in result.rows):
            item["parameters"] = "—" if row.params is None else f"{row.params:,}"
        if any(r.norm for r in result.rows):
            item["normalisation"] = row.norm or "—"
        rows.append(item)  # (the set-up difference is the scale's, said once above the table)
    return pd.DataFrame(rows)


def show_table(result: Result) -> None:
    with st.container(key="exp_result"):
        _table(result)
    st.caption(result.differs)
    for note in sorted({row.data_note for row in result.rows if row.data_note} | {result.data_note} - {""}):
        st.warning(note, icon=":material/cloud_off:")


def _table(result: Result) -> None:
    st.dataframe(result_frame(result), hide_index=True, width="stretch", column_config={
        "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent",
                                                    width="small"),
        "status": st.column_config.TextColumn("status", width="small"),
        "normalisation": st.column_config.TextColumn("normalisation", width="large",
                                                     help="The mean ± std the run used, and those measured on its "
                                                          "training images."),
        "our test acc": st.column_config.TextColumn("our test acc",
                                                    help="Test accuracy after the last epoch (mean ± std over seeds)."),
        "document's": st.column_config.TextColumn("document's", help="The test accuracy the document reports."),
    })


def show_curves(result: Result) -> None:
    """Test accuracy per epoch of every run of the experiment, one line per value."""
    frames = []
    by_id = {r.id: r for r in runs.list_runs()}
    for row in result.rows:
        for run_id in row.run_ids:
            if run_id in by_id:
                epochs = curves_of(by_id[run_id]).epochs
                frames.append(pd.DataFrame({"epoch": epochs["epoch"], "value": epochs["test_acc"],
                                            "run": f"{result.experiment.vary}={row.label}", "id": run_id}))
    data = pd.concat(frames, ignore_index=True).dropna(subset=["value"]) if frames else pd.DataFrame()
    if len(data):
        st.altair_chart(compare_chart(data, "epoch", "value", "Test accuracy per epoch", x_title="epoch",
                                      y_title="test accuracy", percent=True),
                        width="stretch", height=compare_box_height(data))
    else:
        st.caption("The curves appear after each run's first epoch.")
