"""Check my answer: type in the sizes and parameter counts worked out by hand; each is marked with the
correct value, the formula, and the likely mistake."""

import pandas as pd
import streamlit as st

from cnnedu.answers import grade
from cnnedu.errors import CnnEduError
from cnnedu.ui.common import arch_picker, show_error
from cnnedu.ui.nav import ensure_navigation
from cnnedu.zoo import DOCUMENT_ANSWERS, PRESETS

ensure_navigation()
st.title("Check my answer")
st.caption("Work out each layer's output shape (C×H×W, or the number of features after Flatten) and its "
           "parameter count by hand, type them in, and see which are right. Leave a cell empty to skip it.")

picked = arch_picker("Network to check", key="check_arch")
arch, spec = picked.key, picked.spec
if spec is None:
    st.stop()

st.caption(f"Input: {'×'.join(map(str, spec.input_shape))}, {spec.num_classes} classes, "
           f"{len(spec.layers)} layers.")
key = f"answers_{arch}"
prefill = st.session_state.get(f"{key}_prefill", {})  # the document's own answers, when asked for


def fill_from_document() -> None:
    """Put the seed document's hand calculation (mistakes included) into the form."""
    answers = DOCUMENT_ANSWERS[arch]
    st.session_state[f"{key}_prefill"] = answers
    st.session_state[f"{key}_total"] = str(answers.get("total_params", ""))
    st.session_state[f"{key}_version"] = st.session_state.get(f"{key}_version", 0) + 1


if arch in DOCUMENT_ANSWERS:
    preset = PRESETS[arch]
    st.button(f"Fill in the document's own hand calculation ({preset.source[:3]} {preset.task})",
              on_click=fill_from_document, icon=":material/description:",
              help="The coursework document worked this network out by hand, with some mistakes. "
                   "Load its answers and see which are wrong, and why.")
claims = (prefill.get("layers") or []) + [None] * len(spec.layers)
table = st.data_editor(
    pd.DataFrame([{"#": i, "layer": name, "type": layer["type"],
                   "your output shape": str((claims[i] or {}).get("output_shape", "")),
                   "your params": str((claims[i] or {}).get("params", ""))}
                  for i, (name, layer) in enumerate(zip(spec.names(), spec.layers, strict=True))]),
    key=f"{key}_{st.session_state.get(f'{key}_version', 0)}", hide_index=True, width="stretch",
    disabled=["#", "layer", "type"], height=min(35 * (len(spec.layers) + 1) + 3, 800),
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



def shown(value) -> str:
    return "×".join(map(str, value)) if isinstance(value, list) else f"{value:,}" if isinstance(value, int) else str(value)


right = sum(v.ok for v in report.verdicts)
st.metric("Marked right", f"{right} of {len(report.verdicts)}")
st.dataframe(pd.DataFrame([{
    "": "✓" if v.ok else "✗",
    "layer": "total" if v.layer is None else f"{v.layer}: {spec.names()[v.layer]}",
    "what": v.field.replace("_", " "), "you wrote": shown(v.claimed), "correct": v.correct_text,
    "likely mistake": v.hint or v.note, "formula": v.formula} for v in report.verdicts]),
    hide_index=True, width="stretch", height=min(35 * (len(report.verdicts) + 1) + 3, 800),
    column_config={"likely mistake": st.column_config.TextColumn(width="large")})
for v in report.verdicts:  # the hints in full, one per wrong answer
    if not v.ok:
        where = "The total" if v.layer is None else f"Layer {v.layer} ({spec.names()[v.layer]}), {v.field.replace('_', ' ')}"
        st.markdown(f":red[**{where}:**] {v.hint}")
