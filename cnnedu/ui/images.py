"""Streamlit pieces of the Predict and Look inside pages: picking a finished run, cached loading and
exporting, pictures enlarged so that pixels stay sharp, the top-k and confusion-matrix charts, and the
sample images in ``assets/samples``.

Caching: a run's model, test data and ONNX export are cached with ``st.cache_data`` keyed by the run id
*and the modification time of its weights file*, so a run trained again under the same id is never served
stale. ``cache_data`` hands every caller its own copy, which matters for models: the Look inside page
puts forward hooks on a module, and a module shared between browser sessions would catch the other
session's forward passes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from cnnedu.errors import CnnEduError
from cnnedu.onnx.export import ExportReport, export_bytes
from cnnedu.vision.inspect_model import (
    Confusion,
    LoadedModel,
    RunData,
    confusion,
    evaluate_predictions,
    run_model,
    run_test_data,
)

SAMPLES = Path(__file__).resolve().parents[2] / "assets" / "samples"
#: Which sample folder suits a run's dataset.
SAMPLE_FOLDER_FOR = {"fashion-mnist": "fashion-mnist", "mnist": "drawn", "synthetic": "synthetic",
                     "cifar10": "colour"}
IMAGE_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]


# ---------------------------------------------------------------------------------------------- runs


def finished_runs() -> list[Any]:
    """Runs with saved weights, finished or cancelled (newest first); a run store that cannot be read
    shows an error."""
    from cnnedu.runs.store import trained_runs

    try:
        return trained_runs()
    except CnnEduError as err:
        st.error(str(err), icon=":material/error:")
        return []


def run_label(run: Any) -> str:
    from cnnedu.runs.store import trained_label

    return trained_label(run)


def pick_run(key: str, label: str = "Trained run") -> str | None:
    """A selectbox of the runs with saved weights; None (with a hint) when there is none yet."""
    runs = finished_runs()
    if not runs:
        st.info("There is no trained run yet. Train one on the **Train** page, or from a terminal: "
                "`python -m cnnedu train --arch mnist-cnn --dataset fashion-mnist --epochs 1`.", icon=":material/info:")
        return None
    labels = {r.id: run_label(r) for r in runs}
    if st.session_state.get(key) not in labels:
        st.session_state.pop(key, None)
    return st.selectbox(label, list(labels), format_func=labels.get, key=key,
                        help="Runs that saved their weights: finished, or cancelled after some epochs "
                             "(newest first).")


def weights_mtime(run_id: str) -> float:
    """The modification time of a run's weights file: part of every cache key."""
    from cnnedu.runs.store import run_dir

    try:
        return (run_dir(run_id) / "model.pt").stat().st_mtime
    except OSError:
        return 0.0


@st.cache_data(max_entries=8, show_spinner=False)
def cached_run_model(run_id: str, mtime: float) -> LoadedModel:
    """The run's model and metadata (a private copy for every caller)."""
    return run_model(run_id)


@st.cache_data(max_entries=8, show_spinner=False)
def cached_export(run_id: str, mtime: float) -> tuple[bytes, ExportReport]:
    """The run exported to ONNX (bytes) with the parity report."""
    loaded = run_model(run_id)
    return export_bytes(loaded.model, loaded.meta)


@st.cache_data(max_entries=4, show_spinner=False)
def cached_test_data(run_id: str, mtime: float) -> RunData:
    return run_test_data(run_id)


@st.cache_data(max_entries=4, show_spinner=False)
def cached_predictions(run_id: str, mtime: float) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's predicted classes and probabilities on the run's test images."""
    loaded = run_model(run_id)
    return evaluate_predictions(loaded.model, loaded.meta, run_test_data(run_id).x)


@st.cache_data(max_entries=8, show_spinner=False)
def cached_confusion(run_id: str, mtime: float) -> Confusion:
    return confusion(run_id)


# -------------------------------------------------------------------------------------------- pictures


def enlarge(image: Image.Image | np.ndarray, target: int = 160) -> np.ndarray:
    """Enlarge a small image by a whole factor (nearest neighbour) so its longer side is about ``target``
    pixels: the browser would blur a 28×28 image stretched to 160 px; this keeps the pixels square."""
    a = np.asarray(image)
    longest = max(a.shape[0], a.shape[1])
    factor = max(1, target // max(1, longest))
    return a.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else a


def framed(tile: np.ndarray, colour: tuple[int, int, int], scale: int = 4, width: int = 2) -> np.ndarray:
    """A tile enlarged ``scale`` times with a coloured frame (green: right, red: wrong)."""
    rgb = tile if tile.ndim == 3 else np.repeat(tile[:, :, None], 3, axis=2)
    big = rgb.repeat(scale, axis=0).repeat(scale, axis=1)
    out = np.empty((big.shape[0] + 2 * width, big.shape[1] + 2 * width, 3), dtype=np.uint8)
    out[:] = np.asarray(colour, dtype=np.uint8)
    out[width:-width, width:-width] = big
    return out


def scale_for(image: np.ndarray, target: int) -> int:
    """The whole factor that makes an image about ``target`` pixels wide (at least 1)."""
    return max(1, target // max(1, image.shape[1]))


# ---------------------------------------------------------------------------------------------- charts


def topk_chart(guesses: list[Any], height_per_bar: int = 30) -> alt.Chart:
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


# --------------------------------------------------------------------------------------------- samples


def sample_images() -> dict[str, Path]:
    """The sample images, as {"folder/name.png": path}, sorted."""
    if not SAMPLES.is_dir():
        return {}
    return {f"{p.parent.name}/{p.name}": p for p in sorted(SAMPLES.glob("*/*.png"))}


def default_samples(dataset: str | None, count: int = 3) -> list[str]:
    """A few sample names that suit a run's dataset (empty when none do)."""
    folder = SAMPLE_FOLDER_FOR.get(dataset or "")
    if folder is None:
        return []
    return [name for name in sample_images() if name.startswith(folder + "/")][:count]
