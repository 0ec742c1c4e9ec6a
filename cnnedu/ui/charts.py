"""Altair charts: training curves, shared by the Train page (one run, live) and the Runs page (several
runs overlaid), and the Predict and Look inside pages' top-k, confusion-matrix and per-class bars.

Each builder takes plain data (pandas frames from ``cnnedu.ui.runs_view.curves_from_events``) and
returns an ``alt.Chart``; the page redraws it from the run store on every poll (Streamlit has no
``add_rows`` any more, and a redraw from the store is what a reload shows too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import altair as alt
import pandas as pd

if TYPE_CHECKING:
    from cnnedu.onnx.predict import Guess
    from cnnedu.vision.evaluate import Confusion

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


def topk_chart(guesses: list[Guess], height_per_bar: int = 30) -> alt.Chart:
    """Horizontal bars of the top-k probabilities, most probable on top, with the percentage printed.

    Give the chart's height to ``st.altair_chart`` too (:func:`chart_height`): Streamlit otherwise draws
    a layered chart lower than asked."""
    frame = pd.DataFrame({"class": [g.label for g in guesses], "probability": [float(g.prob) for g in guesses],
                          "rank": list(range(1, len(guesses) + 1))})
    frame["text"] = frame["probability"].map(lambda p: f"{p:.1%}")
    base = alt.Chart(frame).encode(
        y=alt.Y("class:N", sort=alt.EncodingSortField("rank", order="ascending"), title=None,
                axis=alt.Axis(labelOverlap=False, labelLimit=160)),
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title="probability"),
        tooltip=["class", alt.Tooltip("probability:Q", format=".2%")])
    bars = base.mark_bar(color="#4c78a8")
    text = base.mark_text(align="left", dx=3).encode(text="text:N")
    return (bars + text).properties(height=max(60, height_per_bar * len(guesses)))


def chart_height(chart: alt.Chart) -> int:
    """The height a chart asked for plus room for its x axis and title (for ``st.altair_chart``)."""
    return int(chart.height) + 60


def confusion_size(cm: Confusion) -> int:
    """Side of the heatmap's square of cells in pixels: about 40 per class, 200 to 480 in all."""
    return max(200, min(480, 40 * len(cm.classes)))


def confusion_chart(cm: Confusion, size: int | None = None) -> alt.Chart:
    """The confusion matrix as a heatmap with the count in every cell: rows true class, columns predicted.

    Streamlit sizes layered charts badly with ``width="content"``: pass the pixel size from
    :func:`confusion_chart_box` to ``st.altair_chart``."""
    size = size or confusion_size(cm)
    rows = [{"true": cm.classes[i], "predicted": cm.classes[j], "count": int(n),
             "share": float(n) / max(1, sum(cm.matrix[i]))}
            for i, row in enumerate(cm.matrix) for j, n in enumerate(row)]
    frame = pd.DataFrame(rows)
    order = list(cm.classes)
    base = alt.Chart(frame).encode(
        x=alt.X("predicted:N", sort=order, title="predicted class",
                axis=alt.Axis(labelAngle=-40, labelOverlap=False, labelLimit=120)),
        y=alt.Y("true:N", sort=order, title="true class", axis=alt.Axis(labelOverlap=False, labelLimit=120)))
    heat = base.mark_rect().encode(
        color=alt.Color("share:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), title="share of row"),
        tooltip=["true", "predicted", "count", alt.Tooltip("share:Q", format=".1%")])
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("count:Q"),
        color=alt.condition("datum.share > 0.5", alt.value("white"), alt.value("black")))
    return (heat + text).properties(width=size, height=size)


def confusion_chart_box(cm: Confusion) -> tuple[int, int]:
    """(width, height) in pixels for ``st.altair_chart``: the cells plus axis labels, titles and legend."""
    size = confusion_size(cm)
    return size + 240, size + 130


def per_class_chart(cm: Confusion) -> alt.Chart:
    """Per-class test accuracy as horizontal bars."""
    frame = pd.DataFrame({"class": cm.classes,
                          "accuracy": [float("nan") if a is None else a for a in cm.per_class_acc]})
    base = alt.Chart(frame).encode(
        y=alt.Y("class:N", sort=list(cm.classes), title=None, axis=alt.Axis(labelOverlap=False, labelLimit=120)),
        x=alt.X("accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title="test accuracy"),
        tooltip=["class", alt.Tooltip("accuracy:Q", format=".1%")])
    text = base.mark_text(align="left", dx=3).encode(text=alt.Text("accuracy:Q", format=".0%"))
    return (base.mark_bar(color="#59a14f") + text).properties(height=max(120, 24 * len(cm.classes)))
