"""The Look inside page's sections: first-layer filters, feature maps, the confusion matrix and the test
predictions, mistakes first. Each takes the run's network (``LoadedModel``) and test images (``RunData``)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnedu.errors import CnnEduError
from cnnedu.onnx.load import LoadedModel
from cnnedu.ui.charts import chart_height, confusion_chart, confusion_chart_box, per_class_chart
from cnnedu.ui.common import plain, show_error
from cnnedu.ui.run_picker import IMAGE_TYPES, cached_confusion, cached_predictions
from cnnedu.vision.evaluate import SAVED, RunData, prediction_grid
from cnnedu.vision.grids import chw_to_image, enlarge, enlarge_to, framed, scale_for
from cnnedu.vision.images import prepare
from cnnedu.vision.inspect_model import feature_map_layers, feature_maps, first_conv_filters
from cnnedu.vision.pixels import normalize


def show_filters(loaded: LoadedModel) -> None:
    """The first convolution's weights drawn as small images, with what they mean."""
    model = loaded.model
    try:
        filters = first_conv_filters(model)
    except CnnEduError as err:
        st.info(plain(err), icon=":material/info:")
    else:
        kh, kw = filters.kernel
        cols = st.columns([2, 3])
        cols[0].image(enlarge(filters.image, scale_for(filters.image, 360)),
                      caption=f"{filters.count} filters of {filters.layer}, {kh}×{kw} each")
        cols[1].markdown(
            f"The first convolution, **{plain(filters.layer)}**, slides {filters.count} small {kh}×{kw} windows of "
            "weights over the image; each output pixel is a weighted sum of the pixels under the window. Drawn "
            "as images, the weights show what each filter looks for: a trained network's first filters "
            "often look like edges at different angles, light/dark blobs or colour contrasts; untrained ones "
            "look like noise (003 Task 2.4).")
        cols[1].caption(
            "Each filter is stretched to its own range: darkest weight black, largest white"
            + (" (per colour channel: red, green and blue inputs)." if filters.colour else ".")
            + (f" {filters.note}." if filters.note else "")
            + f" Weights tensor {list(filters.weights.shape)}, from {filters.weights.min():.3f} to "
            f"{filters.weights.max():.3f}.")


def show_feature_maps(loaded: LoadedModel, data: RunData) -> None:
    """One layer's output for a test image or an uploaded one, as a grid of maps."""
    model, spec, meta = loaded.model, loaded.spec, loaded.meta
    layers = feature_map_layers(model, spec)
    if not layers:
        st.info("This network has no layer that outputs feature maps (it starts with Flatten).", icon=":material/info:")
    else:
        cols = st.columns(3)
        layer = cols[0].selectbox("Layer", layers, key="inside_layer",
                                  help="Every layer before the Flatten outputs a stack of maps, one per channel.")
        where = cols[1].radio("Image", ["a test image", "my own image"], horizontal=True, key="inside_image_source")
        shared = cols[2].toggle("One scale for all maps", key="inside_shared_scale",
                                help="Off: each map is stretched to its own range (its pattern shows). On: all use "
                                     "the layer's range (strongly responding channels stand out).")
        x = shown = None
        if where == "a test image":
            index = st.number_input("Test image number", 0, len(data.y) - 1, 0, key="inside_test_index",
                                    help="Position in the run's test set (the prediction grid below gives numbers).")
            x = normalize(np.asarray(data.x[int(index)]), meta.mean, meta.std)
            shown, label = chw_to_image(data.x[int(index)]), f"test image {index}: {data.classes[int(data.y[int(index)])]}"
        else:
            upload = st.file_uploader("Image", type=IMAGE_TYPES, key="inside_upload")
            if upload is not None:
                try:
                    prepared = prepare(upload.getvalue(), meta)
                except CnnEduError as err:
                    show_error(err, f"{upload.name}: ")
                else:
                    x, shown, label = prepared.array, prepared.preview, f"{upload.name}, as the network sees it"
        if x is not None:
            try:
                with st.spinner("Running the network…"):
                    maps = feature_maps(model, spec, x, layer, shared_scale=shared)
            except CnnEduError as err:
                show_error(err)
            else:
                cols = st.columns([1, 4])
                cols[0].image(enlarge_to(shown, 140), caption=label)
                grid = enlarge(maps.image, scale_for(maps.image, 720))
                h, w = maps.size
                more = f" (the first {maps.shown} shown)" if maps.shown < maps.channels else ""
                dead = f"; {maps.dead} flat for this image (the same value everywhere)" if maps.dead else ""
                cols[1].image(grid, caption=f"{layer}: {maps.channels} maps of {h}×{w}{more}{dead}")


def show_confusion(run_id: str, mtime: float) -> None:
    """The test confusion matrix, the test accuracy, per-class bars and the most confused pairs."""
    try:
        with st.spinner("Counting the test predictions…"):
            cm = cached_confusion(run_id, mtime)
    except CnnEduError as err:
        show_error(err)
    else:
        cols = st.columns([3, 2])
        width, height = confusion_chart_box(cm)
        cols[0].altair_chart(confusion_chart(cm), width=width, height=height)
        cols[1].metric("Test accuracy", f"{cm.accuracy:.1%}", help="Share of the test images on the diagonal")
        bars = per_class_chart(cm)
        cols[1].altair_chart(bars, width="stretch", height=chart_height(bars))
        confused = cm.most_confused(3)
        if confused:
            cols[1].caption("Most often confused: " + "; ".join(f"{plain(t)} taken for {plain(p)} ({n}×)"
                                                                for t, p, n in confused))
        st.caption("Row = the true class, column = what the network predicted; the diagonal holds the right answers. "
                   f"Counted on the run's {sum(map(sum, cm.matrix)):,} test images"
                   f" ({'saved when training ended' if cm.source == SAVED else 'computed again now'}).")


def show_predictions(run_id: str, mtime: float, loaded: LoadedModel, data: RunData) -> None:
    """A grid of test images with their predicted labels, the most confident mistakes first."""
    model, meta = loaded.model, loaded.meta
    count = st.select_slider("Images", [12, 24, 48, 96], value=24, key="inside_grid_n")
    try:
        with st.spinner("Predicting the test images…"):
            predictions = cached_predictions(run_id, mtime)
            tiles = prediction_grid(model, meta, data.x, data.y, data.classes, n=count, predictions=predictions)
    except CnnEduError as err:
        show_error(err)
    else:
        wrong = int((predictions[0] != data.y.numpy()).sum())
        st.caption(f"{wrong:,} of {len(data.y):,} test images are misclassified. The most confident mistakes come "
                   "first (red frame, ✗, the true class after the dash), then correctly classified images (green "
                   "frame, ✓). The percentage is the probability the network gave its answer.")
        per_row = 8
        for start in range(0, len(tiles), per_row):
            cols = st.columns(per_row)
            for col, tile in zip(cols, tiles[start:start + per_row], strict=False):
                colour = (40, 160, 70) if tile.correct else (220, 40, 40)
                col.image(framed(tile.image, colour, scale=max(1, 112 // tile.image.shape[1])),
                          caption=f"#{tile.index} {tile.caption}", width="stretch")
