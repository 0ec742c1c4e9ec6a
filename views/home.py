"""Home: what cnnedu is for and where to start."""

import streamlit as st

from cnnedu.zoo import PRESETS

st.title("cnnedu — a CNN explorer for the coursework")
st.markdown(
    """
Convolutional networks from the course, layer by layer. Start with **Build**: pick LeNet, MobileNet, a
ResNet or the eye-gaze CNN, and see how every layer's output size and parameter count comes out — with
the formula and your numbers in it. Change a kernel size or a stride and watch the table update.

Then **Check my answer**: type in the sizes and parameter counts you worked out by hand and get each one
marked, with the correct formula and the likely mistake (a missing bias, the wrong input channels, a
pooling forgotten…).
"""
)
cols = st.columns(2)
cols[0].page_link("views/build.py", label="Build a network", icon="🧱")
cols[1].page_link("views/check.py", label="Check my answer", icon="✅")

st.subheader("The coursework networks")
st.dataframe(
    [{"id": p.id, "network": p.title, "document": f"{p.source} · {p.task}", "data": p.dataset}
     for p in PRESETS.values()],
    hide_index=True, width="stretch")
