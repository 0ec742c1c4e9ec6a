"""Predict: export a finished run to ONNX (or upload an .onnx file) and classify images with onnxruntime."""

import numpy as np
import streamlit as st
import torch

from cnnedu.budgets import MAX_INPUT_SIDE
from cnnedu.errors import CnnEduError, PredictError
from cnnedu.onnx.meta import ModelMeta
from cnnedu.onnx.predict import OnnxModel, predict
from cnnedu.ui.common import plain, show_error
from cnnedu.ui.images import (
    IMAGE_TYPES,
    cached_export,
    cached_run_model,
    chart_height,
    default_samples,
    enlarge,
    pick_run,
    sample_images,
    topk_chart,
    weights_mtime,
)
from cnnedu.ui.nav import ensure_navigation
from cnnedu.vision.images import MAX_PIXELS, UPLOAD_LIMIT_MB
from cnnedu.vision.inspect_model import to_probs as torch_probs

ensure_navigation()
st.title("Predict")
st.caption("Export a trained network to ONNX — a file that runs without PyTorch — and let onnxruntime "
           "classify your images. Each image is shown exactly as the network sees it, after the colour "
           "conversion, resizing and normalization it was trained with.")

# ---------------------------------------------------------------------------------------------- the model
source = st.radio("Model", ["A finished training run", "An .onnx file"], horizontal=True, key="predict_source")
model: OnnxModel | None = None
loaded = None  # the run's PyTorch model, to compare with onnxruntime
run_id = None

if source == "A finished training run":
    run_id = pick_run("predict_run")
    if run_id is not None:
        mtime = weights_mtime(run_id)
        try:
            with st.spinner("Exporting to ONNX…"):
                data, report = cached_export(run_id, mtime)
                loaded = cached_run_model(run_id, mtime)
            key = f"onnx_model:{run_id}:{mtime}"
            if key not in st.session_state:
                st.session_state[key] = OnnxModel.from_bytes(data, name=f"{run_id}.onnx")
            model = st.session_state[key]
        except CnnEduError as err:
            show_error(err, f"Run {run_id} could not be exported: ")
        else:
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
else:
    upload = st.file_uploader("ONNX model", type=["onnx"], key="predict_onnx_upload",
                              help="A .onnx file exported by cnnedu, or another image classifier that takes one "
                                   f"[N, C, H, W] float input. Up to {UPLOAD_LIMIT_MB} MB, weights inside the file.")
    if upload is not None:
        try:
            model = OnnxModel.from_bytes(upload.getvalue(), name=upload.name)
        except PredictError as err:
            show_error(err, f"{upload.name}: ")
            model = None
        if model is not None and model.needs_meta:
            meta_key = f"onnx_meta:{model.sha256}"
            if model.meta_problem:
                st.warning(plain(model.meta_problem), icon=":material/warning:")
            else:
                st.info("This model carries no cnnedu metadata. Say what it expects; the suggestions come from "
                        "the model's input and output shapes.", icon=":material/info:")
            suggested = st.session_state.get(meta_key) or model.suggested_meta()
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
                output = cols[2].selectbox("The model outputs", ["logits", "probs", "log_probs"],
                                           index=["logits", "probs", "log_probs"].index(suggested.output),
                                           help="logits: raw scores (softmax is applied); probs: after Softmax; "
                                                "log_probs: after LogSoftmax")
                submitted = st.form_submit_button("Use these settings")
            if submitted:
                try:
                    names = [n.strip() for n in classes_text.replace(",", "\n").splitlines() if n.strip()]

                    def numbers(text: str, what: str) -> list[float]:
                        try:
                            values = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
                        except ValueError:
                            raise PredictError(f"{what} must be numbers separated by commas, got {text!r}.") from None
                        return values * c if len(values) == 1 else values

                    meta = ModelMeta(classes=names, input_shape=(int(c), int(h), int(w)),
                                     channel_order="L" if c == 1 else "RGB", mean=numbers(mean_text, "Mean"),
                                     std=numbers(std_text, "Std"), output=output, arch=upload.name)
                    model.with_meta(meta)  # checks that it fits the graph
                    st.session_state[meta_key] = meta
                except PredictError as err:
                    show_error(err)
            if st.session_state.get(meta_key) is not None:
                try:
                    model = model.with_meta(st.session_state[meta_key])
                except PredictError as err:
                    show_error(err)
                    model = None
            else:
                model = None
        if model is not None and model.meta is not None:
            m = model.meta
            st.caption(f"**{plain(model.name)}**: input {'×'.join(map(str, m.input_shape))} ({m.channel_order}), "
                       f"{m.num_classes} classes, output {m.output}.")

if model is None:
    st.stop()
meta = model.meta

# ------------------------------------------------------------------------------------------------ options
with st.expander("How images are converted", expanded=False):
    cols = st.columns(4)
    fit = cols[0].radio("Fit", ["resize", "letterbox", "crop"], key="predict_fit",
                        help="resize: stretch to the network's size (the aspect ratio changes); letterbox: keep "
                             "the aspect ratio and pad with the background colour; crop: keep the aspect ratio "
                             "and cut the centre.")
    background = cols[1].radio("Background", ["white", "black"], key="predict_background",
                               help="Fills transparent areas (and the letterbox padding). Fashion-MNIST and MNIST "
                                    "show light objects on black: choose black for a cut-out image.")
    invert = cols[2].checkbox("Invert (dark ↔ light)", key="predict_invert",
                              help="For a dark drawing or photo on white paper fed to an MNIST-style model, which "
                                   "was trained on light objects on a black background.")
    top_k = 1 if meta.num_classes < 2 else cols[3].slider(
        "Top k", 1, min(10, meta.num_classes), min(5, meta.num_classes), key="predict_topk",
        help="How many classes to show per image")

# ------------------------------------------------------------------------------------------------ images
cols = st.columns(2)
uploads = cols[0].file_uploader("Images", type=IMAGE_TYPES, accept_multiple_files=True, key="predict_images",
                                help=f"PNG, JPEG, GIF, BMP, WebP or TIFF; up to {UPLOAD_LIMIT_MB} MB and "
                                     f"{MAX_PIXELS // 1_000_000} megapixels each.")
samples = sample_images()
dataset = loaded.meta.training.get("dataset") if loaded is not None and loaded.meta.training else None
chosen = cols[1].multiselect("Or sample images", list(samples), default=default_samples(dataset),
                             key=f"predict_samples:{run_id or model.sha256[:12]}",
                             help="A few images per built-in dataset, in assets/samples (Fashion-MNIST test "
                                  "images, synthetic shapes, colour pictures, drawings to try invert and "
                                  "background on).")

items = [(u.name, u.getvalue()) for u in uploads or []]
items += [(name, samples[name].read_bytes()) for name in chosen]
if not items:
    st.info("Upload an image or pick a sample image to see what the network predicts.", icon=":material/image:")
    st.stop()

for name, raw in items:
    with st.container(border=True):
        try:
            [p] = predict(model, raw, top_k=top_k, fit=fit, background=background, invert=invert)
        except PredictError as err:
            show_error(err, f"{name}: ")
            continue
        cols = st.columns([1, 2, 2])
        c, h, w = meta.input_shape
        cols[0].image(enlarge(p.prepared.preview), caption=f"what the network sees ({w}×{h})")
        cols[0].caption("  \n".join(f"• {note}" for note in p.prepared.notes))
        cols[1].markdown(f"**{plain(name)}** → **{plain(p.label)}** ({p.prob:.1%})")
        chart = topk_chart(p.top)
        cols[1].altair_chart(chart, width="stretch", height=chart_height(chart))
        if loaded is not None:
            with torch.no_grad():
                raw_torch = loaded.model(torch.from_numpy(p.prepared.array[None])).numpy()[0]
            diff = float(np.max(np.abs(raw_torch.astype(np.float64) - p.raw)))
            torch_top = int(np.argmax(torch_probs(torch.from_numpy(raw_torch[None]), meta.output).numpy()[0]))
            agree = torch_top == p.index
            cols[2].markdown("**PyTorch vs onnxruntime on this image**")
            cols[2].markdown(f"{':material/check_circle:' if agree else ':material/cancel:'} top-1 {'agrees' if agree else 'differs'}: PyTorch says "
                             f"**{plain(meta.classes[torch_top])}**, onnxruntime **{plain(p.label)}**.")
            cols[2].caption(f"Largest difference between the two raw outputs ({meta.output}): {diff:.2g}")
        else:
            cols[2].caption("Upload-only model: there is no PyTorch network to compare with.")
