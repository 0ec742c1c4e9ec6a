"""Student journeys through Train, Runs, Look inside and Predict in a real browser at 1280×720.

J3: a custom network from the Build page trains, its curves grow, a second run is cancelled, both open on
Look inside and Predict (export, upload, top-k), a second tab sees the same run.
J4: a learning-rate sweep (000 Task 1.5) overlaid on Runs, the legend naming each lr in full.
J5: nonsense typed as a learning rate or uploaded as an image gets a message where it happened.
"""

from __future__ import annotations

import re

import numpy as np
from PIL import Image
from playwright.sync_api import expect

from cnnedu.ui.state import encode
from tests.journeys.student import Student

TINY = {"name": "tiny16", "input_shape": [1, 16, 16], "num_classes": 4, "layers": [
    {"type": "Conv2d", "name": "conv1", "out_channels": 4, "kernel_size": 3}, {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"},
    {"type": "Linear", "name": "fc", "out_features": 4}]}
START = "Start training"


def open_train(s: Student, path: str = "train") -> None:
    """The Train page, once its setting boxes show their values (they fill in just after the first paint)."""
    s.open(path)
    for label in ("Learning rate", "Batch size", "Training images"):
        expect(s.page.get_by_label(label, exact=True)).not_to_have_value("", timeout=15_000)


def settings(s: Student, **values: str) -> None:
    for label, text in values.items():
        s.type_into(label, text)
        assert s.value(label) == text
        assert s.error_under(label) == "", (label, s.error_under(label))


def start(s: Student) -> str:
    before = s.query("run")
    assert s.is_enabled(START)
    s.click(START)
    s.page.wait_for_function(
        "b => new URLSearchParams(location.search).get('run') !== b", arg=before, timeout=30_000)
    return s.query("run")


def png(path, size=16) -> str:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8), "L").save(path)
    return str(path)


def test_j3_the_current_build_trains_is_cancelled_inspected_and_predicts(student: Student, tmp_path):
    s = student
    s.open(f"build?spec={encode(TINY)}")
    expect(s.page.get_by_label("Name", exact=True)).to_have_value("tiny16")
    s.sidebar("Train")
    expect(s.page.get_by_label("Learning rate", exact=True)).not_to_have_value("", timeout=15_000)
    s.choose("Network", "Current build")
    s.sees(re.compile(r"The network you are building on the Build page \(tiny16\)"))
    settings(s, **{"Training images": "8000", "Test images": "100", "Validation share": "0",
                   "Epochs": "4", "Batch size": "16"})
    first = start(s)
    assert first and "-tiny16-" in first  # the current build trained (it used to fail to start)
    a = s.wait_for_progress(lambda p: p[2] > 0)
    live_chart = s.page.locator('[data-testid="stVegaLiteChart"]').first
    expect(live_chart).to_be_visible(timeout=30_000)
    s.page.locator('[data-testid="stMain"]').evaluate("e => e.scrollTo(0, 0)")  # typing scrolled the page
    s.shot("train-j3-running")
    start_button = s.page.get_by_role("button", name=START).first
    assert s.in_view(start_button) and s.in_view(live_chart), "Start and the live curves must be on screen together"
    b = s.wait_for_progress(lambda p: p[2] > a[2])
    assert b[2] > a[2] and b[1] == 4 and b[3] == a[3]
    s.sees("Done.", timeout_ms=120_000)
    assert not s.errors()
    s.shot("train-j3-done")

    # A second, longer run, cancelled after its first epoch: its weights are kept.
    settings(s, Epochs="60")
    second = start(s)
    assert second != first
    s.wait_for_progress(lambda p: p[0] >= 2)
    s.click("Cancel run")
    s.sees("Cancelled", timeout_ms=60_000)
    s.shot("train-j3-cancelled")

    # Both open on Look inside.
    s.sidebar("Look inside")
    for run in (second, first):
        s.choose("Trained run", run)
        assert run in s.selected("Trained run")
        s.sees("First-layer filters")
        assert not s.errors()
    assert "cancelled after" not in s.selected("Trained run")
    s.choose("Trained run", second)
    assert "cancelled after" in s.selected("Trained run")
    s.shot("train-j3-inside-cancelled")

    # Predict: the finished run is exported and classifies an uploaded PNG.
    s.sidebar("Predict")
    s.choose("Trained run", first)
    s.sees("Parity check")
    s.upload("Images", png(tmp_path / "digit.png"))
    s.sees(re.compile(r"digit\.png → "))
    expect(s.page.locator('[data-testid="stVegaLiteChart"]').first).to_be_visible()
    assert not s.errors()
    s.shot("train-j3-predict")

    # A second tab on the Train page of the first run sees the same run and its settings.
    open_train(s, f"train?run={first}")
    s.sees(f"Run {first}")
    other = s.new_tab()
    other.sees(f"Run {first}")
    other.sees("Done.")
    expect(other.page.get_by_label("Training images", exact=True)).to_have_value("8000")
    expect(other.page.get_by_label("Batch size", exact=True)).to_have_value("16")
    other.shot("train-j3-second-tab")
    # A reload and the sidebar keep the watched run and the settings.
    s.reload()
    s.sees(f"Run {first}")
    s.sidebar("Runs")
    s.sidebar("Train")
    s.sees(f"Run {first}")
    expect(s.page.get_by_label("Batch size", exact=True)).to_have_value("16")


def test_j4_a_learning_rate_sweep_is_overlaid_and_the_legend_names_each_lr(student: Student):
    s = student
    open_train(s)
    settings(s, **{"Training images": "300", "Test images": "60", "Validation share": "0", "Epochs": "1"})
    made = []
    for lr in ("0.01", "0.001"):
        settings(s, **{"Learning rate": lr})
        made.append(start(s))
        s.sees("Done.", timeout_ms=120_000)
        s.wait()
    s.open(f"runs?compare={','.join(made)}")
    differs = s.page.locator('[data-testid="stMarkdownContainer"]', has_text="What differs:")
    expect(differs).to_be_visible()
    assert "lr" in differs.inner_text() and "epochs" not in differs.inner_text()
    charts = s.page.locator('[data-testid="stVegaLiteChart"]')
    expect(charts).to_have_count(2)
    s.page.wait_for_timeout(800)
    for i in range(2):
        box = charts.nth(i).bounding_box()
        assert box["height"] >= 250, f"chart {i} is {box['height']} px high"
        legend = charts.nth(i).locator("svg text").evaluate_all("els => els.map(e => e.textContent)")
        if legend:  # the SVG renderer: the legend's labels are text elements, in full
            assert "lr=0.01" in legend and "lr=0.001" in legend, legend
    assert set(s.columns(1)) >= {"lr=0.01", "lr=0.001"}  # the settings table's columns are the legend labels
    assert s.cell(1, 0, "lr=0.01") == "0.01" and s.cell(1, 0, "lr=0.001") == "0.001"
    charts.first.scroll_into_view_if_needed()
    s.shot("runs-j4-compare")
    # The selection survives a reload and a trip through the sidebar.
    s.reload()
    expect(s.page.locator('[data-testid="stMultiSelect"]').get_by_text(made[0])).to_be_visible()
    s.sidebar("Train")
    s.sidebar("Runs")
    assert set(s.query("compare").split(",")) == set(made)
    for run in made:
        expect(s.page.locator('[data-testid="stMultiSelect"]').get_by_text(run)).to_be_visible()
    s.does_not_see("None")


def test_j5_nonsense_settings_and_files_get_a_message_where_they_happened(student: Student, tmp_path):
    s = student
    open_train(s)
    for typed, message in [("0,01", "Use a dot for decimals: 0.01"), ("-1", "must be above 0"),
                           ("abc", "'abc' is not a number")]:
        s.type_into("Learning rate", typed)
        assert s.value("Learning rate") == typed  # what the student typed stays, with the reason under it
        assert message in s.error_under("Learning rate"), (typed, s.error_under("Learning rate"))
        assert not s.is_enabled(START)
        s.sees(re.compile(r"Fix the 1 setting\(s\) marked in red"))
    s.page.locator('[data-testid="stMain"]').evaluate("e => e.scrollTo(0, 0)")
    s.shot("train-j5-bad-lr")
    s.type_into("Epochs", "0")
    assert "at least 1" in s.error_under("Epochs")
    s.type_into("Epochs", "2")
    s.type_into("Learning rate", "1e-3")
    assert s.error_under("Learning rate") == "" and s.is_enabled(START)
    # The NumPy engine of seed 003 trains fully connected networks with SGD: Adam, then a CNN, are refused.
    s.choose("Engine", "NumPy")
    assert "SGD (with or without momentum) only, not adam" in " ".join(s.errors())
    assert not s.is_enabled(START)
    s.choose("Optimizer", "SGD")
    error = " ".join(s.errors())
    assert "layer 0 (conv1, Conv2d)" in error and "Use the torch engine" in error, error
    s.page.locator('[data-testid="stAlertContentError"]').first.scroll_into_view_if_needed()
    s.shot("train-j5-numpy-engine-cnn")
    s.reload()  # the engine is one of the settings kept in the address bar
    assert "NumPy" in s.selected("Engine")
    s.choose("Engine", "PyTorch")
    assert s.errors() == [] and s.is_enabled(START)

    # Predict: a text file renamed .png gets a clear message, and a good image after it still works.
    open_train(s)
    settings(s, **{"Training images": "300", "Test images": "60", "Validation share": "0", "Epochs": "1"})
    start(s)
    s.sees("Done.", timeout_ms=120_000)
    s.sidebar("Predict")
    s.sees("Parity check")
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    s.upload("Images", bad)
    expect(s.page.locator('[data-testid="stAlertContentError"]').filter(has_text="notes.png")).to_be_visible()
    assert any("notes.png" in e for e in s.errors())
    assert not any("Traceback" in e for e in s.errors())
    s.shot("predict-j5-text-file")
    s.upload("Images", png(tmp_path / "good.png", 28))
    s.sees(re.compile(r"good\.png → "))


def test_j6_a_second_students_run_waits_in_line_with_an_estimated_start(student: Student, app_server_home, monkeypatch):
    """Two students on one server (one run trains at a time): the second one's run says where it is in
    line and when it will start, worked out from a finished run like it, and then starts by itself."""
    from cnnedu.runs import store

    s = student
    open_train(s)
    settings(s, **{"Training images": "3000", "Test images": "100", "Validation share": "0", "Epochs": "1"})
    first = start(s)
    s.sees("Done.", timeout_ms=180_000)
    monkeypatch.setenv("CNNEDU_HOME", str(app_server_home))
    took = store.get_run(first).seconds
    second = start(s)  # the same set-up again: it trains now
    other = s.new_tab()  # a second student, with the same settings (they are in the address bar)
    third = start(other)
    assert third not in (first, second)
    line = other.sees(re.compile(r"Queued — number 1 in line"), timeout_ms=30_000)
    estimate = other.sees(re.compile(r"Estimated start: in (about \d+ s|a few seconds)"), timeout_ms=60_000).inner_text()
    said = re.search(r"in about (\d+) s", estimate)
    # the run ahead takes about as long as the finished one like it: never more than that from now
    assert said is None or 5 <= int(said.group(1)) <= took + 5, (estimate, took)
    assert second in line.inner_text()  # it names the run training now
    other.shot("j6-train-queued-with-estimate")
    other.sees("Done.", timeout_ms=240_000)  # it started by itself once the run ahead had finished
    assert store.get_run(third).status == "done" and store.get_run(second).status == "done"
