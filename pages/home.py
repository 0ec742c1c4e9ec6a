"""Home: what cnnedu is for and where to start."""

import streamlit as st

from cnnedu.arch.zoo import PRESETS
from cnnedu.ui.nav import PAGES, ensure_navigation

ensure_navigation()
st.title("cnnedu — a CNN explorer for the coursework")
st.markdown(
    """
Convolutional networks from the course, layer by layer. Start with **Build**: pick LeNet, MobileNet, a
ResNet or the eye-gaze CNN, and see how every layer's output size and parameter count comes out — with
the formula and your numbers in it. Change a kernel size or a stride and watch the table update.

Then **Check my answer**: type in the sizes and parameter counts you worked out by hand and get each one
marked, with the correct formula and the likely mistake (a missing bias, the wrong input channels, a
pooling forgotten…). The coursework's own hand calculations are there too, mistakes included.

**Train** a short run on synthetic shapes (offline), Fashion-MNIST, MNIST, CIFAR-10 or your own image
folder, with the augmentation, optimizer and learning-rate schedule of your choice, and watch the curves
come in. **Runs** puts several runs side by side (the learning-rate and optimizer sweeps); **Experiments**
runs the documents' own comparisons in one click and puts our numbers beside theirs. **Look inside**
a trained network: its filters, feature maps, confusion matrix and mistakes. **Predict** exports it to
ONNX and classifies your own images with onnxruntime.
"""
)
cols = st.columns(len(PAGES) - 1)
for col, info in zip(cols, PAGES[1:], strict=True):
    col.page_link(info.path, label=info.title, icon=info.icon)

st.subheader("The coursework networks")
st.dataframe(
    [{"id": p.id, "network": p.title, "document": f"{p.source} · {p.task}", "data": p.dataset}
     for p in PRESETS.values()],
    hide_index=True, width="stretch")
