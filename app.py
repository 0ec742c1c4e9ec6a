"""cnnedu — the Streamlit app. Run it with `./run.sh app` (or `streamlit run app.py`).

This file only sets up the page and the navigation; each page is a short script in pages/.
"""

import streamlit as st

st.set_page_config(page_title="cnnedu — CNN explorer", page_icon="🧠", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/build.py", title="Build", icon="🧱", url_path="build"),
    st.Page("pages/check.py", title="Check my answer", icon="✅", url_path="check"),
    st.Page("pages/train.py", title="Train", icon="🏋️", url_path="train"),
    st.Page("pages/runs.py", title="Runs", icon="📊", url_path="runs"),
    st.Page("pages/inside.py", title="Look inside", icon="🔍", url_path="inside"),
    st.Page("pages/predict.py", title="Predict", icon="🔮", url_path="predict"),
]

page = st.navigation(PAGES)
with st.sidebar:
    st.caption("cnnedu: build the coursework CNNs, check your hand calculations, train, look inside, "
               "export and predict.")
page.run()
