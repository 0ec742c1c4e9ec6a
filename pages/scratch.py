"""From scratch (seed 003 Part 1): one layer's forward pass and its gradients three ways — the NumPy backward
written by hand, centred numerical differences, torch autograd — and the NumPy network trained beside the
same network in PyTorch. The choices live in the address bar, so a reload or a second tab keeps them."""

import altair as alt
import pandas as pd
import streamlit as st

from cnnedu import budgets
from cnnedu.errors import CnnEduError
from cnnedu.scratch import explore
from cnnedu.ui.common import show_error
from cnnedu.ui.nav import ensure_navigation
from cnnedu.ui.state import keep, restore, url_get, url_set

ensure_navigation()
st.title("From scratch: a layer's gradient, three ways")
st.caption("Seed 003 Part 1 writes every layer in NumPy, forward and backward, and checks each gradient "
           "against a numerical one. Here the same layers are checked twice: against centred differences "
           "`(f(x+h) − f(x−h)) / 2h` and against PyTorch's autograd on the same numbers (float64).")

check_tab, train_tab = st.tabs(["Check a layer's gradient", "Train NumPy beside PyTorch"])

# ------------------------------------------------------------------------------ one layer, three gradients
with check_tab:
    saved = explore.gradient_link(url_get("grad"))
    restore("scratch_layer", saved.get("layer"))
    restore("scratch_h", saved.get("h"))
    restore("scratch_size", saved.get("size"))
    keep("scratch_layer", "affine")
    keep("scratch_h", explore.DEFAULT_H)
    keep("scratch_size", 4)
    cols = st.columns([2, 3, 1])
    layer = cols[0].selectbox("Layer", list(explore.LAYERS), key="scratch_layer",
                              format_func=lambda name: f"{name} — {explore.LAYERS[name]}")
    h = cols[1].select_slider("Step h of the numerical gradient", options=explore.H_STEPS, key="scratch_h",
                              format_func=explore.h_label,
                              help="The numerical gradient is (f(x+h) − f(x−h)) / 2h. Too large an h measures "
                                   "a slope over a curve; too small an h drowns in rounding errors.")
    size = cols[2].number_input("Input size", min_value=1, max_value=budgets.SCRATCH_MAX_SIZE, step=1, key="scratch_size",
                                help="Features of the input (affine, softmax), or its height and width (conv, "
                                     "pooling, batch norm).")
    url_set("grad", {"layer": layer, "h": h, "size": int(size)})
    try:
        check = explore.check(layer, size=int(size), h=h)
    except CnnEduError as err:
        show_error(err)
    else:
        st.markdown(explore.summary(check))  # our own words and numbers: Markdown
        (st.success if check.ok else st.warning)(explore.verdict(check), icon=(
            ":material/check_circle:" if check.ok else ":material/warning:"))
        with st.container(key="scratch_grads"):
            st.dataframe(pd.DataFrame(explore.gradient_rows(check)), hide_index=True, width="stretch")
        with st.spinner("Checking every step h…"):
            sweep = explore.error_sweep(layer, size=int(size))
        chart = alt.Chart(pd.DataFrame(sweep)).mark_line(point=True).encode(
            x=alt.X("h:Q", scale=alt.Scale(type="log"), title="step h (log scale)"),
            y=alt.Y("relative error:Q", scale=alt.Scale(type="log"), title="worst relative error (log scale)"),
            color=alt.Color("compared with:N"))
        rule = alt.Chart(pd.DataFrame({"h": [h]})).mark_rule(strokeDash=[4, 4]).encode(x="h:Q")
        left, right = st.columns([3, 2])
        left.altair_chart(chart + rule, height=260)
        right.caption(explore.sweep_note(sweep))
        with right.expander("The arrays", expanded=False):
            for name, array in explore.arrays(check):
                st.caption(name)
                st.dataframe(pd.DataFrame(array), hide_index=False)

# ------------------------------------------------------------------------ NumPy and PyTorch, side by side
with train_tab:
    st.caption("The fully connected network of 003 Task 1.10 (`FullyConnectedNet`), written in NumPy, and the "
               "same network in PyTorch (`nn.Linear`, `nn.ReLU`, `CrossEntropyLoss`, `torch.optim.SGD`) start "
               "from the same weights and see the same batches in the same order, on synthetic eye images "
               "(gaze-synthetic: 1×36×120, 4 gaze quadrants).")
    saved = explore.fit_link(url_get("fit"))
    for name in ("hidden", "epochs", "batch", "lr", "n"):
        restore(f"fit_{name}", saved.get(name))
    keep("fit_hidden", "100")  # 100 steps of 25 images: about 2 s, and the loss falls from ln 4 to about 0.8
    keep("fit_epochs", 5)
    keep("fit_batch", 25)
    keep("fit_lr", 0.1)
    keep("fit_n", 500)
    cols = st.columns(5)
    hidden_text = cols[0].text_input("Hidden layers", key="fit_hidden", help="Neurons per hidden layer, e.g. 100, 100")
    epochs = cols[1].number_input("Epochs", min_value=1, max_value=budgets.SCRATCH_MAX_EPOCHS, step=1, key="fit_epochs")
    batch = cols[2].number_input("Batch size", min_value=1, max_value=budgets.SCRATCH_MAX_IMAGES, step=1, key="fit_batch")
    lr = cols[3].number_input("Learning rate", min_value=1e-5, max_value=1.0, format="%g", key="fit_lr")
    n = cols[4].number_input("Training images", min_value=10, max_value=budgets.SCRATCH_MAX_IMAGES, step=10, key="fit_n")
    url_set("fit", {"hidden": hidden_text, "epochs": int(epochs), "batch": int(batch), "lr": lr, "n": int(n)})
    try:
        settings = explore.FitSettings.read(hidden_text, int(epochs), int(batch), float(lr), int(n))
    except CnnEduError as err:
        show_error(err)
        st.stop()
    cached = explore.cached_comparison(settings)
    if cached is None:
        if st.button("Train both", type="primary", icon=":material/play_arrow:"):
            bar = st.progress(0.0, text="Preparing the images…")

            def on_step(step: int, total: int, numpy_loss: float, torch_loss: float) -> None:
                bar.progress(step / total, text=f"Step {step} of {total}: loss {numpy_loss:.4f} (NumPy), "
                                                f"{torch_loss:.4f} (PyTorch)")

            try:
                cached = explore.comparison(settings, on_step=on_step)
            except CnnEduError as err:
                show_error(err)
            bar.empty()
    if cached is not None:
        result = cached
        st.markdown(explore.comparison_note(result))
        curves = pd.DataFrame(explore.comparison_rows(result))
        st.altair_chart(alt.Chart(curves).mark_line().encode(
            x=alt.X("step:Q", title="training step (batch)"),
            y=alt.Y("loss:Q", title="training loss", scale=alt.Scale(zero=False)),
            color=alt.Color("network:N"), strokeDash=alt.StrokeDash("network:N")), height=280)
