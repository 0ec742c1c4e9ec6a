"""cnnedu — the Streamlit app. Run it with `./run.sh app` (or `streamlit run app.py`).

This file only sets up the page and the navigation; each page is a short script in views/.
(Not pages/: Streamlit also picks up a folder of that name by itself and, on a freshly started
server, answers a deep link such as /build from it, around this navigation.)
"""

import streamlit as st

st.set_page_config(page_title="cnnedu — CNN explorer", page_icon="🧠", layout="wide")

PAGES = [
    st.Page("views/home.py", title="Home", icon="🏠", default=True),
    st.Page("views/build.py", title="Build", icon="🧱", url_path="build"),
    st.Page("views/check.py", title="Check my answer", icon="✅", url_path="check"),
    st.Page("views/train.py", title="Train", icon="🏋️", url_path="train"),
    st.Page("views/runs.py", title="Runs", icon="📊", url_path="runs"),
    st.Page("views/inside.py", title="Look inside", icon="🔍", url_path="inside"),
    st.Page("views/predict.py", title="Predict", icon="🔮", url_path="predict"),
]

page = st.navigation(PAGES)
with st.sidebar:
    st.caption("cnnedu: build the coursework CNNs, check your hand calculations, train, look inside, "
               "export and predict.")
page.run()
