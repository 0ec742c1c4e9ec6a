"""The numbers a student types on the Train page: usable values pass, everything else gets a message that
says what to type (cnnedu.training.settings, no Streamlit)."""

from __future__ import annotations

import pytest

from cnnedu.training.config import TrainConfig
from cnnedu.training.settings import FIELDS, format_number, parse_setting
from cnnedu.ui.train_form import DEFAULTS, NUMBER_KEYS, clean, settings_from_config


@pytest.mark.parametrize("text, value", [("0.01", 0.01), ("1e-3", 0.001), (".001", 0.001), (" 0.1 ", 0.1),
                                         ("1E-4", 1e-4), ("10", 10.0)])
def test_usual_ways_of_writing_a_learning_rate_are_accepted(text, value):
    parsed = parse_setting("lr", text)
    assert parsed.ok and parsed.value == pytest.approx(value)


@pytest.mark.parametrize("text, message", [
    ("0,01", "Use a dot for decimals: 0.01 (not 0,01)."),
    ("-1", "must be above 0 and at most 10 (you typed -1)"),
    ("0", "must be above 0"),
    ("abc", "'abc' is not a number"),
    ("nan", "not a usable value"),
    ("inf", "not a usable value"),
    ("-inf", "not a usable value"),
    ("1e400", "far too large"),
    ("1e6", "at most 10"),
    ("", "is empty"),
    ("1,000.5", "no commas"),
])
def test_anything_else_is_a_message_and_no_value(text, message):
    parsed = parse_setting("lr", text)
    assert parsed.value is None and message in parsed.message


def test_whole_number_settings_reject_fractions_and_ranges():
    assert parse_setting("batch_size", "64").value == 64
    assert parse_setting("batch_size", "1e2").value == 100
    assert "whole number" in parse_setting("batch_size", "1.5").message
    assert "at least 1" in parse_setting("epochs", "0").message
    assert parse_setting("n_train", "0").value == 0  # 0 = all of them
    assert "below 1" in parse_setting("momentum", "1").message


def test_every_default_is_valid_and_shown_as_typed():
    for key, name in NUMBER_KEYS.items():
        assert parse_setting(name, DEFAULTS[key]).ok, key
    assert [format_number(x) for x in (0.001, 1e-5, 64, 0.0, 2000.0)] == ["0.001", "1e-05", "64", "0", "2000"]
    assert set(NUMBER_KEYS.values()) == set(FIELDS)


def test_a_run_config_gives_back_the_widget_values_and_a_custom_build():
    spec = {"name": "tiny", "input_shape": [1, 16, 16], "num_classes": 4, "layers": []}
    s, build = settings_from_config(TrainConfig(arch=spec, lr=0.01, n_train=None, epochs=3).to_dict())
    assert s["train_lr"] == "0.01" and s["train_epochs"] == "3" and s["train_n_train"] == "0"
    assert s["train_arch"] == "(current build)" and build == spec


def test_settings_from_the_address_bar_keep_only_known_keys_of_the_right_type():
    assert clean({"train_lr": "0.01", "train_flip": 2, "bogus": 1, "train_epochs": 3}) == {
        "train_lr": "0.01", "train_flip": 1.0}
    assert clean("not a dict") == {}


def test_the_upload_limit_is_one_number_everywhere():
    import tomllib
    from pathlib import Path

    from cnnedu.onnx.predict import MAX_MODEL_BYTES
    from cnnedu.vision.images import MAX_FILE_BYTES, UPLOAD_LIMIT_MB, decode_image

    config = tomllib.loads((Path(__file__).parents[2] / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == UPLOAD_LIMIT_MB
    assert MAX_FILE_BYTES == MAX_MODEL_BYTES == UPLOAD_LIMIT_MB * 1024 * 1024
    with pytest.raises(Exception, match=f"cnnedu reads images up to {UPLOAD_LIMIT_MB} MB"):
        decode_image(b"x" * (MAX_FILE_BYTES + 1))
    page = (Path(__file__).parents[2] / "pages" / "predict.py").read_text()
    assert "20 MB" not in page and "200 MB" not in page and "Export page" not in page


def test_a_traceback_never_shows_the_server_s_paths_in_the_browser():
    """Streamlit, started from the repository as ./run.sh app does, resolves client.showErrorDetails to
    "none": an unexpected error shows a generic message, its traceback goes to the terminal only."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).parents[2]
    out = subprocess.run([sys.executable, "-m", "streamlit", "config", "show"], cwd=root, capture_output=True,
                         text=True, timeout=120)
    lines = [line.strip() for line in out.stdout.splitlines() if line.strip().startswith("showErrorDetails =")]
    assert lines == ['showErrorDetails = "none"'], lines


def test_streamlit_started_from_the_repository_skips_the_forced_garbage_collection():
    """runner.postScriptGC is a hidden option (``streamlit config show`` does not list it): Streamlit's own
    config reader, run from the repository root as ./run.sh app runs, resolves it to False (issue 12: ~0.3 s
    per run with torch loaded, 90 % of a class's server time). tests/e2e/test_e2e_server.py checks the running
    server."""
    import subprocess
    import sys
    from pathlib import Path

    code = "from streamlit import config; print(config.get_option('runner.postScriptGC'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2], capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.split() == ["False"], out.stdout + out.stderr
