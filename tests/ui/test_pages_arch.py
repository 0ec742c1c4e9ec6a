"""The Build and Check pages, run by Streamlit's AppTest (no browser): edits change the analysis table,
mistakes show as messages on the page, never as an exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cnnedu.arch.zoo import preset_spec
from tests.helpers import open_page

APP = Path(__file__).resolve().parents[2] / "app.py"





def analysis_table(at: AppTest):
    """The 'Layer by layer' table (the last dataframe that has an 'output size formula' column)."""
    frames = [df.value for df in at.dataframe if "output size formula" in df.value.columns]
    assert frames, "the analysis table is missing"
    return frames[-1]


def test_home_page_lists_the_coursework_networks():
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception
    ids = list(at.dataframe[0].value["id"])
    assert "lenet-cifar10" in ids and "resnet-cifar10" in ids


def test_build_page_shows_lenet_sizes_and_totals():
    at = open_page("pages/build.py")
    table = analysis_table(at)
    conv1 = table[table["layer"] == "conv1"].iloc[0]
    assert conv1["output"] == "6×28×28"
    assert "⌊(32 − 5 + 2·0)/1⌋ + 1 = 28" in conv1["output size formula"]
    assert [m.value for m in at.metric][0] == "62,006"


def test_changing_the_input_size_updates_the_table():
    at = open_page("pages/build.py")
    at.selectbox(key="start_from").set_value("lenet-64x64-gray")
    at.run()
    before = analysis_table(at)
    assert before[before["layer"] == "conv1"].iloc[0]["output"] == "6×60×60"
    height = next(n for n in at.number_input if n.label == "Height")
    width = next(n for n in at.number_input if n.label == "Width")
    height.set_value(32)
    width.set_value(32)
    at.run()
    assert not at.exception
    after = analysis_table(at)
    assert after[after["layer"] == "conv1"].iloc[0]["output"] == "6×28×28"
    assert after[after["layer"] == "flatten1"].iloc[0]["output"] == "400"


@pytest.mark.parametrize("broken, words", [
    ({"type": "Conv2d", "out_channels": 8, "kernel_size": 50}, ["kernel 50", "larger"]),
    ({"type": "Linear", "out_features": 10, "in_features": 800}, ["in_features", "800"]),
    ({"type": "Conv2d", "out_channels": 8, "kernal_size": 3}, ["kernal_size", "kernel_size"]),
    ({"type": "Dropout", "p": 1.5}, ["p must be", "[0, 1)"]),
])
def test_a_broken_layer_shows_an_error_and_no_exception(broken, words):
    at = open_page("pages/build.py")
    spec = preset_spec("lenet-cifar10").to_dict()
    spec["layers"].insert(3 if broken["type"] != "Linear" else 7, broken)
    at.session_state["build_spec"] = spec
    at.run()
    assert not at.exception
    errors = " ".join(e.value.replace("\\", "") for e in at.error)  # shown literally: Markdown escaped
    for word in words:
        assert word in errors


def test_check_page_marks_a_hand_calculation():
    at = open_page("pages/check.py")
    at.selectbox(key="check_arch").set_value("lenet-cifar10")
    at.run()
    at.text_input(key="answers_lenet-cifar10_total").input("62006")
    at.run()
    assert not at.exception
    assert at.metric[0].value == "1 of 1"
    at.text_input(key="answers_lenet-cifar10_total").input("61000")
    at.run()
    assert at.metric[0].value == "0 of 1"
    verdicts = at.dataframe[-1].value
    assert verdicts.iloc[0]["correct"].replace(",", "") == "62006"


def test_check_page_loads_the_documents_hand_calculation_and_names_its_mistakes():
    at = open_page("pages/check.py")
    at.selectbox(key="check_arch").set_value("lenet-64x64-gray")
    at.run()
    at.button[0].click()
    at.run()
    assert not at.exception
    assert at.metric[0].value == "8 of 13"  # 7 shapes, 5 counts, the total; 5 wrong
    verdicts = at.dataframe[-1].value
    hints = " ".join(verdicts["likely mistake"])
    assert "pooled the 30×30 input of conv2 instead of its 26×26 output" in hints
    assert "1 input channel" in hints and "15×15×16 = 3600" in hints


def test_check_page_grades_every_readable_cell_and_names_the_unreadable_one():
    at = open_page("pages/check.py")
    at.selectbox(key="check_arch").set_value("lenet-cifar10")
    at.run()
    at.text_input(key="answers_lenet-cifar10_total").input("abc")
    at.run()
    assert not at.exception
    assert at.metric[0].value == "0 of 0"
    (error,) = [e.value.replace("\\", "") for e in at.error]  # the page escapes markdown (5\\*5 …)
    assert error.startswith("Your total: cannot read 'abc'") and "5*5*3*6+6" in error
    at.text_input(key="answers_lenet-cifar10_total").input("456 + 2416 + 48120 + 10164 + 850")
    at.run()
    assert at.metric[0].value == "1 of 1" and not at.error


def test_check_page_restores_the_network_and_the_answers_from_the_address_bar():
    from cnnedu.ui.state import encode

    answers = {"net": "lenet-64x64-gray", "cells": [["6x60x60", "5*5*1*6+6"], ["", ""], ["", ""],
                                                    ["", "5*5*6*16+16"]], "total": "338,186"}
    at = open_page("pages/check.py", {"check": encode("lenet-64x64-gray"), "answers": encode(answers)})
    assert at.selectbox(key="check_arch").value == "lenet-64x64-gray"
    assert at.text_input(key="answers_lenet-64x64-gray_total").value == "338,186"
    assert at.metric[0].value == "4 of 4"  # conv1's shape and params (156), conv2's params (2416), the total
    hostile = open_page("pages/check.py", {"check": encode("no-such-net"), "answers": "%%%garbage"})
    assert not hostile.exception and hostile.selectbox(key="check_arch").value == "(current build)"


def test_the_layer_table_gives_every_number_room_on_a_projector():
    """ResNet's and MobileNet's layers reach tens of millions of multiply-adds: '37,748,736' used to show as
    '7,748,736'. At Streamlit's 14 px font a digit or comma is about 8 px wide, plus 16 px of cell padding."""
    import json as _json

    at = open_page("pages/build.py")
    at.selectbox(key="start_from").set_value("resnet-cifar10")
    at.run()
    analysis = next(d for d in at.dataframe if "MACs" in _json.loads(d.proto.columns))
    columns = _json.loads(analysis.proto.columns)
    widest = max(len(f"{m:,}") for m in analysis.value["MACs"].dropna().astype(int))
    assert columns["MACs"]["width"] >= 8 * widest + 16
    assert columns["params"]["width"] >= 8 * max(len(f"{p:,}") for p in analysis.value["params"].dropna().astype(int)) + 16
    # both multiply-add conventions: the papers' in the MACs column and the metric, torchinfo's beside them
    torchinfo_macs = analysis.value["MACs (torchinfo)"].dropna().astype(int)
    assert columns["MACs (torchinfo)"]["width"] >= 8 * max(len(f"{m:,}") for m in torchinfo_macs) + 16
    assert (torchinfo_macs >= analysis.value["MACs"].dropna().astype(int)).all()
    assert any(c.value == "torchinfo counts 655.61 M" for c in at.caption)  # resnet-cifar10: 655,613,834


def test_no_page_uses_an_emoji_icon():
    """Emoji need a colour-emoji font (boxes on many Linux machines); Streamlit's Material icons always draw."""
    import re as _re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sources = [*root.glob("pages/*.py"), *root.glob("cnnedu/ui/*.py"), root / "app.py"]
    icons = [m for f in sources for m in _re.findall(r'icon="([^"]*)"', f.read_text())]
    assert icons and all(i.startswith(":material/") for i in icons), [i for i in icons if not i.startswith(":material/")]


@pytest.mark.parametrize("hostile", [[1, 2], {"layers": 5}, {"layers": "notalist", "input_shape": [1, 28, 28]},
                                     {"input_shape": [1, 10**9, 28], "layers": []},
                                     {"input_shape": [1, 28, 28], "layers": [{"type": ["Conv2d"]}]}])
def test_a_hostile_spec_link_gets_a_warning_and_the_default_network(hostile):
    from cnnedu.ui.state import encode

    at = open_page("pages/build.py", {"spec": encode(hostile)})
    assert not at.exception
    assert any("could not be read" in w.value for w in at.warning)
    assert [m.value for m in at.metric][0] == "62,006"  # LeNet (CIFAR-10): 456 + 2416 + 48120 + 10164 + 850
