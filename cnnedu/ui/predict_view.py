"""The Predict page's pieces: a run's network exported to ONNX, an uploaded .onnx file described by a
form when it carries no cnnedu metadata, and one image's prediction with PyTorch's answer beside it."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from cnnedu.budgets import MAX_INPUT_SIDE, UPLOAD_LIMIT_MB
from cnnedu.errors import CnnEduError, PredictError
from cnnedu.onnx.load import LoadedModel
from cnnedu.onnx.meta import OUTPUT_KINDS, ModelMeta
from cnnedu.onnx.predict import OnnxModel, Prediction
from cnnedu.onnx.scores import to_probs
from cnnedu.ui.charts import chart_height, topk_chart
from cnnedu.ui.common import plain, show_error
from cnnedu.ui.run_picker import cached_export, cached_run_model, weights_mtime
from cnnedu.vision.evaluate import eval_forward
from cnnedu.vision.grids import enlarge_to
from cnnedu.vision.pixels import mode_for_channels


def run_onnx_model(run_id: str) -> tuple[OnnxModel | None, LoadedModel | None]:
    """A run exported to ONNX (cached per weights file), with the export report and a download button;
    also the run's PyTorch network, to compare with onnxruntime. (None, None) when the export failed."""
    mtime = weights_mtime(run_id)
    try:
        with st.spinner("Exporting to ONNX…"):
            data, report = cached_export(run_id, mtime)
            loaded = cached_run_model(run_id, mtime)
        key = f"onnx_model:{run_id}:{mtime}"
        if key not in st.session_state:
            st.session_state[key] = OnnxModel.from_bytes(data, name=f"{run_id}.onnx")
    except CnnEduError as err:
        show_error(err, f"Run {run_id} could not be exported: ")
        return None, None
    cols = st.columns([3, 1])
    cols[0].success(
        f"Exported **{run_id}** to ONNX ({report.size_bytes / 1e3:,.1f} kB, opset {report.opset}) in "
        f"{report.seconds:.1f} s. Parity check: on random batches of "
        f"{', '.join(map(str, report.batch_sizes_checked))} images, PyTorch and onnxruntime differ by "
        f"at most **{report.max_abs_diff:.2g}** (allowed: {report.tolerance:g} × the output's scale). "
        f"{report.perturbed_note}", icon=":material/check_circle:")
    cols[1].download_button("Download the .onnx", data, file_name=f"{run_id}.onnx",
                            mime="application/octet-stream", key="download_onnx",
                            help="One self-contained file: the graph, the weights and cnnedu's metadata "
                                 "(class names, input size, normalization). Use it with "
                                 "`python -m cnnedu predict model.onnx image.png`.")
    return st.session_state[key], loaded


def uploaded_onnx_model() -> OnnxModel | None:
    """An uploaded .onnx file, described by the form below when it has no usable cnnedu metadata."""
    upload = st.file_uploader("ONNX model", type=["onnx"], key="predict_onnx_upload",
                              help="A .onnx file exported by cnnedu, or another image classifier that takes one "
                                   f"[N, C, H, W] float input. Up to {UPLOAD_LIMIT_MB} MB, weights inside the file.")
    if upload is None:
        return None
    try:
        model = OnnxModel.from_bytes(upload.getvalue(), name=upload.name)
    except PredictError as err:
        show_error(err, f"{upload.name}: ")
        return None
    if model.needs_meta:
        model = described(model, upload.name)
    if model is not None and model.meta is not None:
        m = model.meta
        st.caption(f"**{plain(model.name)}**: input {'×'.join(map(str, m.input_shape))} ({m.channel_order}), "
                   f"{m.num_classes} classes, output {m.output}.")
    return model


def described(model: OnnxModel, name: str) -> OnnxModel | None:
    """The model with the description the user gave in the form (kept per file), or None until then."""
    meta_key = f"onnx_meta:{model.sha256}"
    if model.meta_problem:
        st.warning(plain(model.meta_problem), icon=":material/warning:")
    else:
        st.info("This model carries no cnnedu metadata. Say what it expects; the suggestions come from "
                "the model's input and output shapes.", icon=":material/info:")
    submitted = meta_form(st.session_state.get(meta_key) or model.suggested_meta(), name)
    if submitted is not None:
        try:
            model.with_meta(submitted)  # checks that it fits the graph
            st.session_state[meta_key] = submitted
        except PredictError as err:
            show_error(err)
    if st.session_state.get(meta_key) is None:
        return None
    try:
        return model.with_meta(st.session_state[meta_key])
    except PredictError as err:
        show_error(err)
        return None


def meta_form(suggested: ModelMeta, name: str) -> ModelMeta | None:
    """The "describe the model" form; the ModelMeta it describes once submitted (None before, or when a
    number cannot be read: the error is shown)."""
    with st.form("describe_model"):
        cols = st.columns(3)
        c = cols[0].selectbox("Channels", [1, 3], index=0 if suggested.input_shape[0] == 1 else 1,
                              help="1 for gray images (MNIST-style), 3 for colour (RGB)")
        h = cols[1].number_input("Height", 1, MAX_INPUT_SIDE, min(MAX_INPUT_SIDE, int(suggested.input_shape[1])))
        w = cols[2].number_input("Width", 1, MAX_INPUT_SIDE, min(MAX_INPUT_SIDE, int(suggested.input_shape[2])))
        classes_text = st.text_area("Class names, one per output (comma or one per line)",
                                    "\n".join(suggested.classes), height=120)
        cols = st.columns(3)
        mean_text = cols[0].text_input("Mean per channel (0..1)", ", ".join(f"{v:g}" for v in suggested.mean),
                                       help="The normalization used in training: x = (pixel/255 − mean)/std")
        std_text = cols[1].text_input("Std per channel (0..1)", ", ".join(f"{v:g}" for v in suggested.std))
        output = cols[2].selectbox("The model outputs", list(OUTPUT_KINDS),
                                   index=list(OUTPUT_KINDS).index(suggested.output),
                                   help="logits: raw scores (softmax is applied); probs: after Softmax; "
                                        "log_probs: after LogSoftmax")
        if not st.form_submit_button("Use these settings"):
            return None
    try:
        names = [n.strip() for n in classes_text.replace(",", "\n").splitlines() if n.strip()]
        return ModelMeta(classes=names, input_shape=(int(c), int(h), int(w)), channel_order=mode_for_channels(c),
                         mean=_numbers(mean_text, "Mean", c), std=_numbers(std_text, "Std", c), output=output,
                         arch=name)
    except PredictError as err:
        show_error(err)
        return None


def _numbers(text: str, what: str, channels: int) -> list[float]:
    """Numbers separated by commas (or semicolons); one number stands for every channel."""
    try:
        values = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise PredictError(f"{what} must be numbers separated by commas, got {text!r}.") from None
    return values * channels if len(values) == 1 else values


def show_prediction(name: str, p: Prediction, meta: ModelMeta, loaded: LoadedModel | None) -> None:
    """One image: what the network sees, its top-k classes, and PyTorch's answer beside onnxruntime's."""
    cols = st.columns([1, 2, 2])
    c, h, w = meta.input_shape
    cols[0].image(enlarge_to(p.prepared.preview), caption=f"what the network sees ({w}×{h})")
    cols[0].caption("  \n".join(f"• {note}" for note in p.prepared.notes))
    cols[1].markdown(f"**{plain(name)}** → **{plain(p.label)}** ({p.prob:.1%})")
    chart = topk_chart(p.top)
    cols[1].altair_chart(chart, width="stretch", height=chart_height(chart))
    if loaded is None:
        cols[2].caption("Upload-only model: there is no PyTorch network to compare with.")
        return
    raw_torch = eval_forward(loaded.model, torch.from_numpy(p.prepared.array[None])).numpy()[0]
    diff = float(np.max(np.abs(raw_torch.astype(np.float64) - p.raw)))
    torch_top = int(np.argmax(to_probs(raw_torch[None], meta.output)[0]))
    agree = torch_top == p.index
    cols[2].markdown("**PyTorch vs onnxruntime on this image**")
    cols[2].markdown(f"{':material/check_circle:' if agree else ':material/cancel:'} top-1 "
                     f"{'agrees' if agree else 'differs'}: PyTorch says **{plain(meta.classes[torch_top])}**, "
                     f"onnxruntime **{plain(p.label)}**.")
    cols[2].caption(f"Largest difference between the two raw outputs ({meta.output}): {diff:.2g}")
