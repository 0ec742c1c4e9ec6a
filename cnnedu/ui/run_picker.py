"""Choosing a trained run on the Predict and Look inside pages: the run picker, the cached loading and
exporting of its network, and the sample images in ``assets/samples``.

Caching: a run's model, test data and ONNX export are cached with ``st.cache_data`` keyed by the run id
*and the modification time of its weights file*, so a run trained again under the same id is never served
stale. ``cache_data`` hands every caller its own copy, which matters for models: the Look inside page
puts forward hooks on a module, and a module shared between browser sessions would catch the other
session's forward passes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from cnnedu.errors import CnnEduError
from cnnedu.onnx.export import ExportReport, export_bytes
from cnnedu.onnx.load import LoadedModel, run_model
from cnnedu.vision.evaluate import Confusion, RunData, confusion, evaluate_predictions, run_test_data

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
    from cnnedu.runs.trained import trained_label

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
    from cnnedu.runs.folder import RunFolder

    try:
        return RunFolder(run_id).weights.stat().st_mtime
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
