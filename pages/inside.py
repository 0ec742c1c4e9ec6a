"""Look inside: a trained network's first-layer filters, its feature maps, its confusion matrix and mistakes."""

import streamlit as st

from cnnedu.errors import CnnEduError
from cnnedu.ui.common import plain, show_error
from cnnedu.ui.inside_view import show_confusion, show_feature_maps, show_filters, show_predictions
from cnnedu.ui.nav import ensure_navigation
from cnnedu.ui.run_picker import cached_run_model, cached_test_data, pick_run, weights_mtime

ensure_navigation()
st.title("Look inside a trained network")
run_id = pick_run("inside_run")
if run_id is None:
    st.stop()
mtime = weights_mtime(run_id)
try:
    with st.spinner("Loading the run's network and test images…"):
        loaded = cached_run_model(run_id, mtime)
        data = cached_test_data(run_id, mtime)
except CnnEduError as err:
    show_error(err, f"Run {run_id}: ")
    st.stop()
model, spec, meta = loaded.model, loaded.spec, loaded.meta
st.caption(f"**{plain(spec.name)}** trained on {plain(data.title)}; {len(data.y):,} test images of "
           f"{'×'.join(map(str, meta.input_shape))}, classes: {plain(', '.join(meta.classes))}.")

st.header("First-layer filters")
show_filters(loaded)
st.header("Feature maps")
show_feature_maps(loaded, data)
st.header("Confusion matrix")
show_confusion(run_id, mtime)
st.header("Test predictions, mistakes first")
show_predictions(run_id, mtime, loaded, data)
