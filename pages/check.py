"""Check my answer: type in the sizes and parameter counts worked out by hand; each is marked with the
correct value, the formula, and the likely mistake. The network, the answers and the total live in the
address bar (cnnedu/ui/state.py), so a reload, a trip through the sidebar or a second tab keeps them."""

import pandas as pd
import streamlit as st

from cnnedu.arch.zoo import DOCUMENT_ANSWERS, PRESETS
from cnnedu.errors import CnnEduError
from cnnedu.grading.form import AnswerSheet, network_key, verdict_table
from cnnedu.grading.grade import grade
from cnnedu.ui.common import arch_picker, show_error
from cnnedu.ui.nav import ensure_navigation
from cnnedu.ui.state import editor_data, keep, reset_editor, restore, url_get, url_set
from cnnedu.ui.text import plain

SHAPE, PARAMS = "your output shape", "your params"
SHEETS = "check_sheets"  # {network key: AnswerSheet.to_json()}: this tab's answers for each network



ensure_navigation()
st.title("Check my answer")
st.caption("Work out each layer's output shape (C×H×W, or the number of features after Flatten) and its "
           "parameter count by hand, type them in, and see which are right. Sums like `5*5*3*6+6` are fine; "
           "leave a cell empty to skip it.")

restore("check_arch", url_get("check"))
top = st.columns([3, 2], vertical_alignment="bottom")
with top[0]:
    picked = arch_picker("Network to check", key="check_arch")
url_set("check", picked.key)
spec = picked.spec
if spec is None:
    st.stop()

net = network_key(picked.key, spec if picked.is_build else None)
key = f"answers_{net}"
names = spec.names()
sheets = st.session_state.setdefault(SHEETS, {})
if net not in sheets:  # a new session: the answers in the address bar, if they are for this network
    linked = url_get("answers")
    sheets[net] = linked if isinstance(linked, dict) and linked.get("net") == net else {}
sheet = AnswerSheet.from_json(sheets[net], len(names))


def fill_from_document() -> None:
    """Put the seed document's hand calculation (mistakes included) into the form."""
    document = AnswerSheet.from_answers(DOCUMENT_ANSWERS[picked.key], names)
    sheets[net] = document.to_json()
    reset_editor(f"{key}_table", document.cells)
    st.session_state[f"{key}_total"] = document.total


if picked.key in DOCUMENT_ANSWERS:
    preset = PRESETS[picked.key]
    top[1].button(f"Fill in the document's own hand calculation ({preset.source[:3]} {preset.task})",
                  on_click=fill_from_document, icon=":material/description:", width="stretch",
                  help="The coursework document worked this network out by hand, with some mistakes. "
                       "Load its answers and see which are wrong, and why.")

left, right = st.columns([1, 1])
with left:
    st.caption(f"Input: {'×'.join(map(str, spec.input_shape))}, {spec.num_classes} classes, "
               f"{len(spec.layers)} layers.")
    data, table_key = editor_data(f"{key}_table", sheet.cells)
    table = st.data_editor(
        pd.DataFrame([{"layer": f"{i} {name}", "type": layer["type"], SHAPE: cells[0], PARAMS: cells[1]}
                      for i, (name, layer, cells) in enumerate(zip(names, spec.layers, data, strict=True))]),
        key=table_key, hide_index=True, width="stretch", disabled=["layer", "type"],
        height=min(35 * (len(spec.layers) + 1) + 3, 600),
        column_config={"layer": st.column_config.TextColumn(width=80),
                       "type": st.column_config.TextColumn(width=85),
                       SHAPE: st.column_config.TextColumn(width=125, help="e.g. 6x28x28 (C×H×W), 28x28x6, or 400"),
                       PARAMS: st.column_config.TextColumn(width=100, help="e.g. 456 or 5*5*3*6+6")})
    keep(f"{key}_total", sheet.total)
    total = st.text_input("Your total number of parameters", key=f"{key}_total",
                          placeholder="e.g. 62006 or 456 + 2416 + …")

sheet = AnswerSheet([[str(row[SHAPE] or ""), str(row[PARAMS] or "")]
                     for row in table.fillna("").to_dict("records")], total)
sheets[net] = sheet.to_json()
url_set("answers", None if sheet.is_empty else {"net": net, **sheet.to_json()})

with right:
    if sheet.is_empty:
        st.info("Fill in at least one cell to get it marked.", icon=":material/edit_note:")
        st.stop()
    try:
        report = grade(spec, sheet.answers())
    except CnnEduError as err:
        show_error(err)
        st.stop()
    graded = f"{report.right} of {len(report.verdicts)}"
    st.metric("Marked right", graded, help="Cells that cannot be read are not marked; fix them to get them "
              "marked." if report.problems else None)
    for problem in report.problems:
        st.error(plain(str(problem)), icon=":material/error:")
    if report.verdicts:
        rows = verdict_table(report)
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                     height=min(35 * (len(rows) + 1) + 3, 460),
                     column_config={"": st.column_config.TextColumn(width=30),
                                    "layer": st.column_config.TextColumn(width=90),
                                    "what": st.column_config.TextColumn(width=60),
                                    "you wrote": st.column_config.TextColumn(width=110),
                                    "correct": st.column_config.TextColumn(width=80),
                                    "likely mistake": st.column_config.TextColumn(width="large")})

if report.wrong:
    st.subheader("What went wrong", divider="gray")
for v in report.wrong:  # the hints in full, one per wrong answer
    where = "The total" if v.layer is None else f"Layer {v.layer} ({names[v.layer]}), {v.field.replace('_', ' ')}"
    st.markdown(f":red[:material/close: **{where}:**] {plain(v.hint)}  \n"
                f":gray[Correct: {v.correct_text} — {plain(v.formula)}]")
