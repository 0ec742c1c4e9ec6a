"""The Train and Runs pages, run by Streamlit's AppTest (no browser) against a real run store and real
worker processes: a run started from the page is in the store, survives a re-run of the page, shows its
result; bad settings are messages, not exceptions; the Runs page overlays runs and names what differs."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from cnnedu.runs import store as runs
from cnnedu.runs.worker import run_inline
from tests import helpers
from tests.helpers import open_page


def tiny(**overrides):
    return helpers.tiny(**{"n_train": 300, "n_test": 100, **overrides})


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def charts(at: AppTest) -> list[str]:
    """The Vega-Lite specs (with their data) of the page's altair charts, as text."""
    return [str(node.proto) for node in at.get("vega_lite_chart")]


# ------------------------------------------------------------------------------------------------ Train


def test_a_run_started_on_the_train_page_is_stored_survives_a_rerun_and_shows_its_result():
    at = open_page("pages/train.py")
    assert "press **Start training**" in texts(at.info)
    at.text_input(key="train_n_train").set_value("300")
    at.text_input(key="train_n_test").set_value("100")
    at.text_input(key="train_epochs").set_value("1")
    at.text_input(key="train_val_split").set_value("0.0")
    at.run()
    assert not at.error, texts(at.error)
    at.button(key="train_start").click()
    at.run()
    assert not at.exception, at.exception

    stored = runs.list_runs()
    assert len(stored) == 1
    run_id = stored[0].id
    assert stored[0].config["n_train"] == 300 and stored[0].config["epochs"] == 1
    assert stored[0].arch == "mnist-cnn" and stored[0].dataset == "synthetic"
    assert at.query_params["run"] == run_id and at.session_state["train_run"] == run_id
    assert any(run_id in h.value for h in at.subheader)

    # A reload or a second tab: a new session that only has the run id in the address bar.
    again = open_page("pages/train.py", {"run": run_id})
    assert any(run_id in h.value for h in again.subheader)
    assert again.text_input(key="train_n_train").value == "300"  # the run's settings come back too
    assert again.text_input(key="train_epochs").value == "1"

    finished = runs.wait(run_id, timeout=120)
    assert finished.status == "done", finished.message
    again.run()
    assert not again.exception, again.exception
    done = texts(again.success)
    assert "Done" in done and f"{finished.test_acc:.1%}" in done
    assert f"{finished.test_acc:.1%}" in [m.value for m in again.metric]
    specs = charts(again)
    assert len(specs) == 2 and any("test" in s and "accuracy" in s for s in specs)

    again.button(key="train_inside").click()  # the Look inside page opens on this run
    again.run()
    assert not again.exception, again.exception
    assert again.selectbox(key="inside_run").value == run_id


def test_bad_settings_show_an_error_and_no_run_starts():
    at = open_page("pages/train.py")
    for typed, message in [("0,01", "Use a dot for decimals: 0.01"), ("-1", "must be above 0"),
                           ("0", "must be above 0"), ("abc", "'abc' is not a number"),
                           ("nan", "not a usable value"), ("1e9", "at most 10")]:
        at.text_input(key="train_lr").set_value(typed)
        at.run()
        assert not at.exception
        assert message in texts(at.error), typed
        assert at.button(key="train_start").disabled, typed
    at.text_input(key="train_batch").set_value("1.5")
    at.run()
    assert "The batch size must be a whole number" in texts(at.error)
    at.text_input(key="train_batch").set_value("64")

    at.text_input(key="train_lr").set_value("0.001")
    at.selectbox(key="train_dataset").set_value("folder")
    at.run()
    assert "Choose the image folder" in texts(at.error)
    at.text_input(key="train_data_dir").set_value("/no/such/folder")
    at.run()
    assert "There is no folder /no/such/folder" in texts(at.error)
    assert not at.exception and runs.list_runs() == []


def test_the_settings_survive_a_visit_to_another_page():
    at = open_page("pages/train.py")
    at.text_input(key="train_n_train").set_value("1234")
    at.selectbox(key="train_optimizer").set_value("sgd")
    at.run()
    assert at.text_input(key="train_lr").value == "0.01"  # SGD's usual learning rate
    at.switch_page("pages/runs.py")
    at.run()
    at.switch_page("pages/train.py")
    at.run()
    assert at.text_input(key="train_n_train").value == "1234"
    assert at.selectbox(key="train_optimizer").value == "sgd" and at.text_input(key="train_lr").value == "0.01"


def test_a_dataset_of_another_shape_says_it_will_be_converted():
    at = open_page("pages/train.py")
    at.selectbox(key="train_dataset").set_value("cifar10")
    at.run()
    info = texts(at.info)
    assert "CIFAR-10 images are 3×32×32 but mnist-cnn expects 1×28×28" in info
    assert "RGB → grayscale" in info and "automatic" in info
    assert not at.error


def test_the_augmentation_preview_shows_the_images_before_and_after():
    at = open_page("pages/train.py")
    at.text_input(key="train_crop").set_value("3")
    at.slider(key="train_flip").set_value(0.5)
    at.run()
    assert not at.exception and not at.error
    (preview,) = at.get("image")
    assert "after one random augmentation (flip 0.5, crop ±3 px)" in preview.proto.imgs[0].caption


def test_a_diverged_run_shows_the_explanation_as_an_error():
    run_id, result = run_inline(tiny(optimizer="sgd", lr=10, momentum=0.9))
    assert result.status == "failed"
    at = open_page("pages/train.py", {"run": run_id})
    error = texts(at.error)
    assert "The run failed" in error and "learning rate 10 is too large" in error
    assert at.text_input(key="train_lr").value == "10"  # the failed settings, ready to fix


def test_a_running_run_can_be_cancelled_from_the_page():
    run_id = runs.start_run(tiny(n_train=4000, epochs=50))
    at = open_page("pages/train.py", {"run": run_id})
    assert at.button(key="train_cancel").label == "Cancel run"
    at.button(key="train_cancel").click()
    at.run()
    run = runs.wait(run_id, timeout=60)
    assert run.status == "cancelled"
    at.run()
    assert "Cancelled" in texts(at.info) and not at.exception
    assert not [b for b in at.button if b.key == "train_cancel"]


# ------------------------------------------------------------------------------------------------- Runs


def test_the_runs_page_overlays_two_runs_names_what_differs_and_deletes_one():
    fast, _ = run_inline(tiny(lr=0.01))
    slow, _ = run_inline(tiny(lr=0.001))
    at = open_page("pages/runs.py")
    table = at.dataframe[0].value
    assert list(table["run"]) == [slow, fast]  # newest first
    assert set(table["lr"]) == {0.01, 0.001} and set(table["status"]) == {"✓ done"}
    assert table["best test acc"].str.endswith(" %").all()

    assert set(at.multiselect(key="runs_compare").value) == {fast, slow}
    assert "**What differs:** `lr`" in texts(at.markdown)
    specs = charts(at)
    assert len(specs) == 2
    assert all("lr=0.01" in s and "lr=0.001" in s for s in specs)
    settings = at.dataframe[1].value
    assert settings.index[0] == "lr"  # the differing setting comes first

    at.radio(key="runs_loss_grain").set_value("per step")
    at.run()
    assert not at.exception and "training step" in charts(at)[1]

    at.selectbox(key="runs_target").set_value(fast)
    at.run()
    at.button(key="runs_ask_delete").click()
    at.run()
    assert "This cannot be undone" in texts(at.warning)
    assert [r.id for r in runs.list_runs()] == [slow, fast]  # nothing deleted before the "yes"
    at.button(key="runs_yes_delete").click()
    at.run()
    assert not at.exception, at.exception
    assert [r.id for r in runs.list_runs()] == [slow]
    assert f"Deleted run {fast}" in texts(at.success)
    assert list(at.dataframe[0].value["run"]) == [slow]
    assert at.multiselect(key="runs_compare").value == [slow]


def test_compare_on_the_train_page_overlays_the_run_with_the_one_before_it():
    first, _ = run_inline(tiny(lr=0.01))
    second, _ = run_inline(tiny(lr=0.001))
    run_inline(tiny(lr=0.1))  # a later run stays out of it
    at = open_page("pages/train.py", {"run": second})
    at.button(key="train_compare").click()
    at.run()
    assert not at.exception, at.exception
    assert at.multiselect(key="runs_compare").value == [first, second]
    assert "**What differs:** `lr`" in texts(at.markdown)


def test_the_comparison_comes_from_the_address_bar_and_a_running_run_must_be_cancelled_before_deleting():
    first, _ = run_inline(tiny())
    run_inline(tiny(seed=1))
    at = open_page("pages/runs.py", {"compare": first})
    assert at.multiselect(key="runs_compare").value == [first]

    busy = runs.start_run(tiny(n_train=4000, epochs=50))
    at = open_page("pages/runs.py")
    at.selectbox(key="runs_target").set_value(busy)
    at.run()
    assert at.button(key="runs_ask_delete").disabled
    assert "cancel it first" in texts(at.caption)
    at.button(key="runs_cancel").click()
    at.run()
    assert runs.wait(busy, timeout=60).status == "cancelled"
    at.run()
    assert not at.button(key="runs_ask_delete").disabled


def test_the_runs_page_without_runs_says_how_to_start_one():
    at = open_page("pages/runs.py")
    assert "No training runs yet" in texts(at.info)
    assert any(link.label == "Go to the Train page" for link in at.get("page_link"))


def test_time_left_comes_from_the_live_speed_else_the_last_epoch():
    from cnnedu.ui.train_live import time_left

    assert time_left(100, 50, 10, 100.0, 99.0) == 5.0
    assert time_left(100, 50, 10, None, 7.0) == 7.0
    assert time_left(100, 50, 10, None, float("nan")) is None
    assert time_left(100, 0, 10, 100.0, None) is None and time_left(0, 5, 10, 1.0, None) is None
