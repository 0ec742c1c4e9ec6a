"""Altair charts of training curves, shared by the Train page (one run, live) and the Runs page (several
runs overlaid).

Each builder takes plain data (pandas frames from ``cnnedu.ui.runs_view.curves_from_events``) and
returns an ``alt.Chart``; the page redraws it from the run store on every poll (Streamlit has no
``add_rows`` any more, and a redraw from the store is what a reload shows too).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

SPLIT_COLOURS = {"training": "#4c78a8", "validation": "#f58518", "test": "#54a24b"}
HEIGHT = 260
COMPARE_HEIGHT = 260  # px: the Runs page's plots (the legend is below, outside this)
# On the right: with Streamlit's chart theme a legend above or below the plot takes its height from the plot.
LEGEND = alt.Legend(orient="right")


def padded_domain(values: pd.Series, *, low: float | None = None, high: float | None = None,
                  whole: bool = False) -> list[float] | None:
    """A domain for an axis whose data has one point or one value (a run that diverged at once, a constant
    loss): the value with room on both sides, so the axis has readable ticks. None: let Vega choose."""
    v = pd.to_numeric(values, errors="coerce").dropna()
    if not len(v):
        return None
    lo, hi = float(v.min()), float(v.max())
    if hi - lo > 1e-9 * max(1.0, abs(hi)):
        return None
    pad = 1.0 if whole else max(abs(lo) * 0.1, 0.05)
    lo, hi = lo - pad, hi + pad
    if low is not None:
        lo = max(lo, low)
    if high is not None:
        hi = min(hi, high)
    return [lo, hi]


def _scale(values: pd.Series, **kwargs) -> alt.Scale:
    domain = padded_domain(values, **kwargs)
    return alt.Scale(zero=False) if domain is None else alt.Scale(zero=False, domain=domain)


def _split_scale(splits: list[str]) -> alt.Scale:
    return alt.Scale(domain=splits, range=[SPLIT_COLOURS[s] for s in splits])


def loss_chart(steps: pd.DataFrame, epochs: pd.DataFrame | None = None, height: int = HEIGHT) -> alt.Chart:
    """The training loss after every few steps (a line), with the validation and test loss at the end of
    each epoch (points on the same step axis) when there are any."""
    frames = [pd.DataFrame({"step": steps["step"], "loss": steps["loss"], "epoch": steps["epoch"],
                            "curve": "training"})]
    if epochs is not None and len(epochs):
        for split, column in (("validation", "val_loss"), ("test", "test_loss")):
            if column in epochs and epochs[column].notna().any():
                frames.append(pd.DataFrame({"step": epochs["step"], "loss": epochs[column],
                                            "epoch": epochs["epoch"], "curve": split}))
    data = pd.concat(frames, ignore_index=True).dropna(subset=["loss"])
    splits = [s for s in SPLIT_COLOURS if s in set(data["curve"])]
    colour = alt.Color("curve:N", scale=_split_scale(splits), title=None, legend=LEGEND)
    base = alt.Chart(data).encode(
        x=alt.X("step:Q", title="training step (batch)", axis=alt.Axis(tickMinStep=1, format="d"),
                scale=_scale(data["step"], low=0, whole=True)),
        y=alt.Y("loss:Q", title="loss", scale=_scale(data["loss"]), axis=alt.Axis(format=".3~g")),
        color=colour,
        tooltip=[alt.Tooltip("curve:N"), alt.Tooltip("step:Q"), alt.Tooltip("epoch:Q"),
                 alt.Tooltip("loss:Q", format=".4f")])
    line = base.transform_filter(alt.datum.curve == "training").mark_line(strokeWidth=1.5)
    points = base.transform_filter(alt.datum.curve != "training").mark_line(point=alt.OverlayMarkDef(size=60),
                                                                               strokeDash=[4, 3])
    return (line + points).properties(title="Loss", height=height)


def accuracy_chart(epochs: pd.DataFrame, height: int = HEIGHT) -> alt.Chart:
    """Training, validation and test accuracy after each epoch (0-100 %)."""
    frames = []
    for split, column in (("training", "train_acc"), ("validation", "val_acc"), ("test", "test_acc")):
        if column in epochs and epochs[column].notna().any():
            frames.append(pd.DataFrame({"epoch": epochs["epoch"], "accuracy": epochs[column], "split": split}))
    data = (pd.concat(frames, ignore_index=True) if frames
            else pd.DataFrame(columns=["epoch", "accuracy", "split"]))
    splits = [s for s in SPLIT_COLOURS if s in set(data["split"])] or ["test"]
    return alt.Chart(data).mark_line(point=alt.OverlayMarkDef(size=60)).encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d"),
                scale=_scale(data["epoch"], low=0, whole=True)),
        y=alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        color=alt.Color("split:N", scale=_split_scale(splits), title=None, legend=LEGEND),
        tooltip=[alt.Tooltip("split:N"), alt.Tooltip("epoch:Q"), alt.Tooltip("accuracy:Q", format=".2%")],
    ).properties(title="Accuracy", height=height)


def compare_chart(data: pd.DataFrame, x: str, y: str, title: str, *, x_title: str, y_title: str,
                  percent: bool = False, points: bool = True, height: int = COMPARE_HEIGHT) -> alt.Chart:
    """Several runs overlaid: ``data`` has columns ``x``, ``y`` and "run" (the legend label, e.g.
    "lr=0.01"); one colour per run. The legend sits below the plot, one run per line, labels in full."""
    y_axis = alt.Axis(format="%") if percent else alt.Axis(format=".3~g")
    y_scale = alt.Scale(domain=[0, 1]) if percent else _scale(data[y])
    x_axis = alt.Axis(tickMinStep=1, format="d")
    mark = alt.Chart(data).mark_line(point=alt.OverlayMarkDef(size=50) if points else False,
                                     strokeWidth=2 if points else 1.2)
    return mark.encode(
        x=alt.X(f"{x}:Q", title=x_title, axis=x_axis, scale=_scale(data[x], low=0, whole=True)),
        y=alt.Y(f"{y}:Q", title=y_title, scale=y_scale, axis=y_axis),
        color=alt.Color("run:N", title=None, scale=alt.Scale(scheme="tableau10"),
                        legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=0)),
        tooltip=[alt.Tooltip("run:N"), alt.Tooltip("id:N", title="run id"), alt.Tooltip(f"{x}:Q"),
                 alt.Tooltip(f"{y}:Q", format=".2%" if percent else ".4f")],
    ).properties(title=title, height=height)


def compare_box_height(data: pd.DataFrame, height: int = COMPARE_HEIGHT) -> int:
    """The height for st.altair_chart: the plot's fixed height, its title and axis, one line per run."""
    return height + 90 + 20 * data["run"].nunique()
