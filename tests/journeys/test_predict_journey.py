"""J6: a hostile student on the Predict page of a shared classroom server, in a real browser at 1280×720.

They upload a model that computes for minutes (no loop to refuse: a chain of big MatMuls) and get the
time-limit message after PREDICT_SECONDS, while a classmate's tab on the Build page keeps working; the
10^12-step Loop and the 401-byte metadata bomb are refused at once with their messages; a model whose class
name is Markdown and HTML shows it literally (no image fetched, nothing bold); a reload leaves the page usable.
"""

from __future__ import annotations

import re
import time

import numpy as np
from PIL import Image
from playwright.sync_api import expect

from cnnedu import budgets
from cnnedu.ui.state import encode
from tests.journeys.student import Student
from tests.onnx_builders import build

HOSTILE = "![x](http://127.0.0.1:9/x.png) and <b>bold</b>"
TINY = {"name": "tiny16", "input_shape": [1, 16, 16], "num_classes": 4, "layers": [
    {"type": "Conv2d", "name": "conv1", "out_channels": 4, "kernel_size": 3}, {"type": "ReLU"},
    {"type": "Flatten"}, {"type": "Linear", "name": "fc", "out_features": 4}]}
TABLE = "layers_"
SLACK_S = 20  # the browser, the upload and a busy 2-core machine


def write(path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def png(path) -> str:
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16), dtype=np.uint8), "L").save(path)
    return str(path)


def upload_model(s: Student, path: str, wait: bool = True) -> None:
    box = s.page.locator('[data-testid="stFileUploader"]').filter(
        has=s.page.get_by_text("ONNX model", exact=True)).first
    box.locator('input[type="file"]').set_input_files(path)
    if wait:
        s.wait()


def no_traceback(s: Student) -> None:
    s.wait()  # fails on a Streamlit exception box
    assert "Traceback" not in s.page.locator('[data-testid="stMain"]').inner_text()


def test_j6_hostile_models_get_messages_and_the_server_keeps_serving(student: Student, tmp_path):
    s = student
    s.open("predict")
    s.page.get_by_text("An .onnx file", exact=True).click()
    s.wait()

    # A classmate in a second tab (a second session) builds a network.
    other = s.new_tab(f"{s.base_url}/build?spec={encode(TINY)}")
    expect(other.page.get_by_label("Name", exact=True)).to_have_value("tiny16")

    # 1. A model that passes every static check and computes for minutes: stopped at the time limit.
    upload_model(s, write(tmp_path / "slow.onnx", build({"graph": "slow", "side": 1500, "count": 1000})))
    assert not s.errors()
    box = s.page.locator('[data-testid="stFileUploader"]').filter(has=s.page.get_by_text("Images", exact=True)).first
    started = time.monotonic()
    box.locator('input[type="file"]').set_input_files(png(tmp_path / "me.png"))  # the prediction starts
    # ... and meanwhile the classmate edits a layer and sees the new sizes.
    s.page.wait_for_timeout(1500)
    other.edit_cell(TABLE, 0, "settings", "out_channels=8, kernel_size=5")
    other.tab("Layer by layer")
    assert other.cell("build_analysis", 0, "output") == "8×12×12"
    edited = time.monotonic() - started
    other.shot("predict-j6-classmate-builds")
    limit = f"took longer than {budgets.PREDICT_SECONDS:g} s"
    s.sees(limit, timeout_ms=int((budgets.PREDICT_SECONDS + SLACK_S) * 1000))
    seconds = time.monotonic() - started
    assert edited < budgets.PREDICT_SECONDS, f"the classmate's edit took {edited:.0f} s: the server was blocked"
    assert seconds < budgets.PREDICT_SECONDS + SLACK_S, seconds
    assert any(limit in e for e in s.errors())
    no_traceback(s)
    s.shot("predict-j6-time-limit")

    # 2. The Loop of 10^12 steps is refused before it runs.
    started = time.monotonic()
    upload_model(s, write(tmp_path / "loop.onnx", build({"graph": "loop", "trip_count": 10**12})))
    s.sees("Loop of 1,000,000,000,000 steps")
    assert time.monotonic() - started < SLACK_S
    assert any("Loop of 1,000,000,000,000 steps" in e for e in s.errors())
    no_traceback(s)
    s.shot("predict-j6-loop")

    # 3. The metadata bomb: its input_shape is refused and the student may describe the model by hand.
    upload_model(s, write(tmp_path / "bomb.onnx", build({"meta": {"cnnedu.input_shape": "[3,100000,100000]"}})))
    s.sees(re.compile(r"input_shape \[3, 100000, 100000\] is larger than cnnedu's limit of 4096 pixels a side"))
    s.sees("Use these settings")
    no_traceback(s)
    s.shot("predict-j6-metadata-bomb")

    # 4. Class names and file names are text, never Markdown or HTML.
    hostile = build({"graph": "constant", "value": [100.0, 0.0], "classes": [HOSTILE, "other"]})
    upload_model(s, write(tmp_path / "**names**.onnx", hostile))
    s.sees("**names**.onnx")
    s.sees(re.compile(r"→ " + re.escape(HOSTILE)))
    assert not s.errors()
    main = s.page.locator('[data-testid="stMain"]')
    assert main.locator('img[src*="127.0.0.1"]').count() == 0, "a class name made the browser fetch a URL"
    assert main.locator('[data-testid="stMarkdownContainer"] b').count() == 0, "a class name was rendered as HTML"
    s.page.get_by_text(re.compile(r"→ ")).first.scroll_into_view_if_needed()
    s.shot("predict-j6-literal-names")

    # 5. A reload: the page is there and usable, with no error left over.
    s.reload()
    s.sees("Predict")
    s.page.get_by_text("An .onnx file", exact=True).click()
    s.wait()
    expect(s.page.get_by_text("ONNX model", exact=True)).to_be_visible()
    assert not s.errors()
    no_traceback(s)
    s.shot("predict-j6-after-reload")
