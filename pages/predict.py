"""Predict: export a finished run to ONNX (or upload an .onnx file) and classify images with onnxruntime."""

import streamlit as st

from cnnedu.budgets import MAX_PIXELS, UPLOAD_LIMIT_MB
from cnnedu.errors import PredictError
from cnnedu.onnx.predict import OnnxModel, predict
from cnnedu.ui.common import show_error
from cnnedu.ui.nav import ensure_navigation
from cnnedu.ui.predict_view import run_onnx_model, show_prediction, uploaded_onnx_model
from cnnedu.ui.run_picker import IMAGE_TYPES, default_samples, pick_run, sample_images

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
        model, loaded = run_onnx_model(run_id)
else:
    model = uploaded_onnx_model()

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
        show_prediction(name, p, meta, loaded)
