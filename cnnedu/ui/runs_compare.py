"""The Runs page's comparison: the runs table, and several runs' curves overlaid with what differs between
them as the legend (the coursework's learning-rate and optimizer sweeps). The selection is kept in the
session and in the address bar (``?compare=id,id``)."""

from __future__ import annotations

import datetime

import pandas as pd
import streamlit as st

from cnnedu.runs import store as runs
from cnnedu.ui.charts import compare_box_height, compare_chart
from cnnedu.ui.runs_view import (
    STATUS_ICONS,
    Curves,
    comparable_settings,
    curves_from_events,
    human_seconds,
    percent_text,
    run_labels,
    settings_row,
)
from cnnedu.ui.state import keep

COMPARE_KEY = "runs_compare"  # the selected runs (also ?compare=id,id in the URL)


@st.cache_data(max_entries=128, show_spinner=False)
def load_curves(run_id: str, created: float, status: str, epochs_done: int, heartbeat: float | None) -> Curves:
    """A run's curves; the arguments after the id change whenever the run has new events."""
    return curves_from_events(runs.events(run_id, kinds=("start", "step", "epoch", "done", "cancelled",
                                                         "failed", "interrupted")))


def curves_of(run: runs.Run) -> Curves:
    return load_curves(run.id, run.created, run.status, run.epochs_done, run.heartbeat)


def table(all_runs: list[runs.Run]) -> pd.DataFrame:
    rows = []
    for run in all_runs:
        best = curves_of(run).best_test_acc
        rows.append({
            "run": run.id, "status": f"{STATUS_ICONS.get(run.status, '')} {run.status}"
                      + (" (damaged record)" if run.damaged else ""),
            "final test acc": percent_text(run.test_acc), "best test acc": percent_text(best),
            "time": human_seconds(run.seconds), **settings_row(run),
            "started": datetime.datetime.fromtimestamp(run.started or run.created).strftime("%Y-%m-%d %H:%M"),
        })
    return pd.DataFrame(rows)


def default_selection(all_runs: list[runs.Run]) -> list[str]:
    """The two newest finished runs (or the newest run)."""
    return [r.id for r in all_runs if r.status == "done"][:2] or [r.id for r in all_runs][:1]


def on_compare() -> None:
    selected = st.session_state[COMPARE_KEY]
    if selected:
        st.query_params["compare"] = ",".join(selected)
    else:
        st.query_params.pop("compare", None)


def settings_table(selected: list[runs.Run], labels: dict[str, str], differ: list[str]):
    """Settings as rows, runs as columns; the settings that differ come first, highlighted."""
    settings = {r.id: comparable_settings(r.config) for r in selected}
    names: list[str] = list(differ)
    for s in settings.values():
        names.extend(k for k in s if k not in names)
    frame = pd.DataFrame({labels[r.id] if labels[r.id] != r.id else r.id:
                          [str(settings[r.id].get(k, "—")) for k in names] for r in selected},
                         index=pd.Index(names, name="setting"))
    return frame.style.apply(
        lambda row: ["background-color: rgba(255, 193, 7, 0.35); font-weight: bold" if row.name in differ else ""
                     for _ in row], axis=1)


def chosen_runs(all_runs: list[runs.Run]) -> list[runs.Run]:
    """The runs picked to overlay (from the address bar, else kept across pages); [] when none."""
    ids = [r.id for r in all_runs]
    from_url = [i for i in st.query_params.get("compare", "").split(",") if i in ids]
    if from_url and from_url != st.session_state.get(COMPARE_KEY):  # a link from the Train page
        st.session_state[COMPARE_KEY] = from_url
    else:  # kept across pages (cnnedu.ui.state.keep); a deleted run leaves the selection
        keep(COMPARE_KEY, default_selection(all_runs))
        st.session_state[COMPARE_KEY] = [i for i in st.session_state[COMPARE_KEY] if i in ids]
    chosen = st.multiselect("Runs to overlay", ids, key=COMPARE_KEY, on_change=on_compare,
                            placeholder="Choose the runs to compare",
                            help="E.g. the same network trained with learning rates 0.1, 0.01, 0.001 and "
                                 "0.0001 (000 Task 1.5), or SGD against Adam (001 Exercise 3).")
    on_compare()  # the selection stays in the address bar (?compare=): a reload or a second tab keeps it
    by_id = {r.id: r for r in all_runs}
    return [by_id[i] for i in chosen]


def curve_frames(selected: list[runs.Run], labels: dict[str, str], acc_col: str,
                 grain: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The accuracy (``acc_col`` per epoch) and training loss (per epoch or per step) of every selected run,
    one long table each, with the run's label in "run"."""
    acc_frames, loss_frames = [], []
    for run in selected:
        curves = curves_of(run)
        extra = {"run": labels[run.id], "id": run.id}
        acc_frames.append(pd.DataFrame({"epoch": curves.epochs["epoch"], "value": curves.epochs[acc_col],
                                        **extra}))
        if grain == "per epoch":
            loss_frames.append(pd.DataFrame({"x": curves.epochs["epoch"], "value": curves.epochs["train_loss"],
                                             **extra}))
        else:
            loss_frames.append(pd.DataFrame({"x": curves.steps["step"], "value": curves.steps["loss"], **extra}))
    acc = pd.concat(acc_frames, ignore_index=True).dropna(subset=["value"])
    loss = pd.concat(loss_frames, ignore_index=True).dropna(subset=["value"])
    return acc, loss


def overlay_charts(acc: pd.DataFrame, loss: pd.DataFrame, split: str, grain: str) -> None:
    """The accuracy and the training-loss curves of the runs side by side (or why there are none yet)."""
    charts = st.columns(2)
    with charts[0]:
        if len(acc):
            st.altair_chart(compare_chart(acc, "epoch", "value", f"{split.capitalize()} accuracy per epoch",
                                          x_title="epoch", y_title=f"{split} accuracy", percent=True),
                            width="stretch", height=compare_box_height(acc))
        else:
            st.caption(f"No {split} accuracy measured yet"
                       + (" (set a validation share on the Train page)." if split == "validation" else "."))
    with charts[1]:
        if len(loss):
            x_title = "epoch" if grain == "per epoch" else "training step (batch)"
            st.altair_chart(compare_chart(loss, "x", "value", f"Training loss {grain}", x_title=x_title,
                                          y_title="training loss", points=grain == "per epoch"),
                            width="stretch", height=compare_box_height(loss))
        else:
            st.caption("No training loss measured yet.")


def compare(all_runs: list[runs.Run]) -> None:
    st.subheader("Compare runs")
    selected = chosen_runs(all_runs)
    if not selected:
        st.caption("Choose one or more runs to see their curves on top of each other.")
        return
    labels, differ = run_labels(selected)
    if len(selected) > 1:
        if differ:
            st.markdown("**What differs:** " + ", ".join(f"`{k}`" for k in differ) + " — the legend shows "
                        "each run's values.")
        else:
            st.markdown("**What differs:** nothing — these runs have the same settings (on a CPU, the same "
                        "seed gives the same run).")

    options = st.columns(2)
    split = options[0].radio("Accuracy on", ["test", "validation", "training"], horizontal=True,
                             key="runs_acc_split")
    grain = options[1].radio("Training loss", ["per epoch", "per step"], horizontal=True, key="runs_loss_grain")
    acc_col = {"test": "test_acc", "validation": "val_acc", "training": "train_acc"}[split]
    overlay_charts(*curve_frames(selected, labels, acc_col, grain), split, grain)
    st.caption("The settings of the selected runs" + (", what differs first and highlighted." if differ else "."))
    st.dataframe(settings_table(selected, labels, differ), width="stretch")
