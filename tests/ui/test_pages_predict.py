"""The Predict and Look inside pages, run by Streamlit's AppTest (no browser), with a real tiny finished run
in the test's run store: good images get predictions, bad files get a readable error and never an
exception, and the page keeps working for the other images."""

from __future__ import annotations

import io

import numpy as np
import onnx
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnedu.onnx.export import export_bytes
from tests.helpers import open_page


def png(size=(40, 30), mode="L", seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(buf, "PNG")
    return buf.getvalue()


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


# ----------------------------------------------------------------------------------------------- Predict


def test_predict_page_without_runs_says_how_to_get_one():
    at = open_page("pages/predict.py")
    assert any("There is no trained run yet" in i.value for i in at.info)


def test_a_cancelled_run_with_saved_weights_opens_on_look_inside_and_predict():
    import time

    from cnnedu.runs import store as runs
    from cnnedu.runs.trained import has_weights, trained_label
    from tests.helpers import tiny

    run_id = runs.start_run(tiny(n_train=2000, n_test=100, epochs=40))
    deadline = time.monotonic() + 90
    while runs.get_run(run_id).epochs_done < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    runs.cancel(run_id)
    run = runs.wait(run_id, timeout=60)
    assert run.status == "cancelled" and has_weights(run)
    label = trained_label(run)
    assert f"(cancelled after {run.epochs_done} of 40 epochs)" in label
    for page, key in (("pages/inside.py", "inside_run"), ("pages/predict.py", "predict_run")):
        at = open_page(page)
        assert not at.exception and at.selectbox(key=key).value == run_id, page
        assert "cancelled after" in at.selectbox(key=key).format_func(run_id)


def test_predict_page_exports_the_run_and_predicts_uploaded_images(finished_run):
    at = open_page("pages/predict.py")
    assert at.selectbox(key="predict_run").value == finished_run
    assert any("Parity check" in s.value for s in at.success)
    # the synthetic samples are preselected for a synthetic run: each one is predicted
    assert "synthetic/0-ring.png" in at.multiselect(key="predict_samples:" + finished_run).value
    at.file_uploader(key="predict_images").set_value([("photo.png", png(), "image/png"),
                                                     ("broken.png", png()[:80], "image/png"),
                                                     ("colour.png", png(mode="RGB", seed=2), "image/png")])
    at.run()
    assert not at.exception, at.exception
    assert len(errors(at)) == 1 and errors(at)[0].startswith("broken.png: This file is not an image")
    text = markdown(at)
    assert "**photo.png** → **" in text and "**colour.png** → **" in text and "**broken.png**" not in text
    assert text.count("top-1 agrees") == text.count("→ **")  # PyTorch agrees with onnxruntime everywhere
    assert any("resized 40×30 → 16×16" in c.value for c in at.caption)
    charts = at.get("vega_lite_chart")
    assert len(charts) == text.count("→ **")


def test_options_change_the_conversion(finished_run):
    at = open_page("pages/predict.py")
    at.multiselect(key="predict_samples:" + finished_run).set_value([])
    at.file_uploader(key="predict_images").set_value(("photo.png", png((20, 10)), "image/png"))
    at.radio(key="predict_fit").set_value("letterbox")
    at.radio(key="predict_background").set_value("black")
    at.checkbox(key="predict_invert").check()
    at.run()
    assert not at.exception
    notes = " ".join(c.value for c in at.caption)
    assert "padded with black" in notes and "colours inverted" in notes


def test_uploaded_onnx_without_metadata_asks_for_it(finished_run):
    from cnnedu.onnx.load import run_model

    loaded = run_model(finished_run)
    data, _ = export_bytes(loaded.model, loaded.meta)
    proto = onnx.load_from_string(data)
    del proto.metadata_props[:]
    at = open_page("pages/predict.py")
    at.radio(key="predict_source").set_value("An .onnx file")
    at.run()
    at.file_uploader(key="predict_onnx_upload").set_value(("bare.onnx", proto.SerializeToString(),
                                                           "application/octet-stream"))
    at.run()
    assert not at.exception
    assert any("no cnnedu metadata" in i.value for i in at.info)
    # prefilled from the graph: 1 channel, 16×16, 4 outputs
    assert at.number_input[0].value == 16 and at.text_area[0].value.count("\n") == 3
    at.text_area[0].set_value("ring\ncross\nhbar\nvbar")
    at.button[0].click()
    at.run()
    assert not at.exception
    at.file_uploader(key="predict_images").set_value(("photo.png", png(), "image/png"))
    at.run()
    assert not at.exception and not errors(at)
    assert "**photo.png** → **" in markdown(at)


def test_garbage_onnx_upload_shows_an_error(finished_run):
    at = open_page("pages/predict.py")
    at.radio(key="predict_source").set_value("An .onnx file")
    at.run()
    at.file_uploader(key="predict_onnx_upload").set_value(("junk.onnx", b"not a model at all" * 20,
                                                           "application/octet-stream"))
    at.run()
    assert not at.exception
    assert errors(at) and errors(at)[0].startswith("junk.onnx: This file is not an ONNX model")


HOSTILE_NAMES = ["![x](http://127.0.0.1:9/x.png)", "<b>bold</b>", ":smile: *star*", "[link](http://x.y)"]


def test_class_and_file_names_from_an_upload_are_shown_literally(finished_run):
    from cnnedu.ui.text import plain
    from tests.onnx_builders import build

    at = open_page("pages/predict.py")
    at.radio(key="predict_source").set_value("An .onnx file")
    at.run()
    # a model whose every class name is Markdown or HTML, so the top class is one of them
    at.file_uploader(key="predict_onnx_upload").set_value(
        ("**evil**.onnx", build({"graph": "tiny", "classes": HOSTILE_NAMES}), "application/octet-stream"))
    at.run()
    at.file_uploader(key="predict_images").set_value([("<i>me</i>.png", png((16, 16)), "image/png")])
    at.run()
    assert not at.exception and not errors(at), errors(at)
    text = markdown(at) + "\n".join(c.value for c in at.caption)
    assert "**" + plain("**evil**.onnx") + "**" in text
    shown = [m.value for m in at.markdown if "→" in m.value]
    assert len(shown) == 1 and shown[0].startswith("**" + plain("<i>me</i>.png") + "** → **")
    assert any(plain(name) in shown[0] for name in HOSTILE_NAMES)
    # nothing a browser would render: every ] before a ( and every < is escaped
    assert "](http" not in text.replace("\\](", "") and "<b>" not in text and "<i>" not in text


def test_a_hostile_model_upload_shows_its_message_and_no_traceback(finished_run):
    from tests.onnx_builders import build

    at = open_page("pages/predict.py")
    at.radio(key="predict_source").set_value("An .onnx file")
    at.run()
    for data, says in ((build({"graph": "loop", "trip_count": 10**12}), "Loop of 1,000,000,000,000 steps"),
                       (build({"meta": {"cnnedu.input_shape": "[3,100000,100000]"}}), "4096 pixels a side")):
        at.file_uploader(key="predict_onnx_upload").set_value(("attack.onnx", data, "application/octet-stream"))
        at.run()
        assert not at.exception
        shown = " ".join(errors(at) + [w.value for w in at.warning]).replace("\\", "")
        assert says in shown, shown


# ------------------------------------------------------------------------------------------ Look inside


def test_inside_page_shows_filters_maps_confusion_and_mistakes_first(finished_run):
    at = open_page("pages/inside.py")
    headers = [h.value for h in at.header]
    assert headers == ["First-layer filters", "Feature maps", "Confusion matrix", "Test predictions, mistakes first"]
    assert at.selectbox(key="inside_layer").options == ["conv1", "relu1", "pool1", "conv2", "relu2"]
    assert any("6 filters of conv1, 3×3 each" in c for c in _image_captions(at))
    captions = _image_captions(at)
    assert any(c.startswith("conv1: 6 maps of 14×14") for c in captions)
    grid = [c for c in captions if c.startswith("#")]
    assert len(grid) == 24
    marks = [c.split()[1] for c in grid]
    assert marks == sorted(marks, key=lambda m: m != "✗")  # every ✗ before every ✓
    assert at.metric[0].label == "Test accuracy"
    assert len(at.get("vega_lite_chart")) == 2  # confusion heatmap + per-class accuracy

    at.selectbox(key="inside_layer").set_value("conv2")
    at.number_input(key="inside_test_index").set_value(5)
    at.toggle(key="inside_shared_scale").set_value(True)
    at.run()
    assert not at.exception
    assert any(c.startswith("conv2: 8 maps of 5×5") for c in _image_captions(at))


def test_inside_page_with_an_uploaded_image_and_a_broken_one(finished_run):
    at = open_page("pages/inside.py")
    at.radio(key="inside_image_source").set_value("my own image")
    at.run()
    at.file_uploader(key="inside_upload").set_value(("bad.png", b"\x89PNG\r\n\x1a\n broken", "image/png"))
    at.run()
    assert not at.exception and errors(at)[0].startswith("bad.png: ")
    assert "Confusion matrix" in [h.value for h in at.header]  # the rest of the page is still there
    at.file_uploader(key="inside_upload").set_value(("mine.png", png((64, 64), "RGB"), "image/png"))
    at.run()
    assert not at.exception and not errors(at)
    assert any(c == "mine.png, as the network sees it" for c in _image_captions(at))


def _image_captions(at: AppTest) -> list[str]:
    """Captions of every st.image on the page."""
    return [caption for element in at.get("image") for caption in element.captions]
