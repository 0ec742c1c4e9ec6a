"""Check my answer: type in the sizes and parameter counts worked out by hand; each is marked with the
correct value, the formula, and the likely mistake."""

import pandas as pd
import streamlit as st

from cnnedu.answers import grade
from cnnedu.errors import CnnEduError
from cnnedu.ui.common import arch_picker, show_error

st.title("Check my answer")
st.caption("Work out each layer's output shape (C×H×W, or the number of features after Flatten) and its "
           "parameter count by hand, type them in, and see which are right. Leave a cell empty to skip it.")

arch, spec = arch_picker("Network to check", key="check_arch")
if spec is None:
    st.stop()

st.caption(f"Input: {'×'.join(map(str, spec.input_shape))}, {spec.num_classes} classes, "
           f"{len(spec.layers)} layers.")
key = f"answers_{arch}"
table = st.data_editor(
    pd.DataFrame([{"#": i, "layer": name, "type": layer["type"], "your output shape": "", "your params": ""}
                  for i, (name, layer) in enumerate(zip(spec.names(), spec.layers, strict=True))]),
    key=key, hide_index=True, width="stretch", disabled=["#", "layer", "type"],
    column_config={"your output shape": st.column_config.TextColumn(help="e.g. 6x28x28 or 400"),
                   "your params": st.column_config.TextColumn(help="e.g. 456")})
total = st.text_input("Your total number of parameters", key=f"{key}_total", placeholder="e.g. 62006")

answers = {"layers": [{k: v for k, v in (("output_shape", (row["your output shape"] or "").strip()),
                                           ("params", (row["your params"] or "").strip())) if v}
                      for row in table.fillna("").to_dict("records")]}
if total.strip():
    answers["total_params"] = total.strip()

if not any(answers["layers"]) and "total_params" not in answers:
    st.info("Fill in at least one cell to get it marked.")
    st.stop()

try:
    report = grade(spec, answers)
except CnnEduError as err:
    show_error(err)
    st.stop()

right = sum(v.ok for v in report.verdicts)
st.metric("Marked right", f"{right} of {len(report.verdicts)}")
st.dataframe(pd.DataFrame([{
    "": "✅" if v.ok else "❌",
    "layer": "total" if v.layer is None else f"{v.layer}: {spec.names()[v.layer]}",
    "what": v.field.replace("_", " "), "you wrote": str(v.claimed), "correct": str(v.correct),
    "formula": v.formula, "likely mistake": v.hint} for v in report.verdicts]),
    hide_index=True, width="stretch")
