"""What several test files share: a tiny network and training settings that run in seconds, and
opening one page of the app in Streamlit's AppTest."""

from __future__ import annotations

import os
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from cnnedu.training.config import TrainConfig

APP = Path(__file__).resolve().parents[1] / "app.py"

# A small, fast network for 1×16×16 images of 4 classes (no BatchNorm, so a huge learning rate diverges).
TINY = {"name": "tiny", "input_shape": [1, 16, 16], "num_classes": 4, "layers": [
    {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2},
    {"type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2},
    {"type": "Flatten"}, {"type": "Linear", "out_features": 4}]}


def tiny(**overrides) -> TrainConfig:
    """Training settings for TINY on synthetic data. One thread: on a busy 2-core machine, two PyTorch
    threads can be many times slower than one."""
    settings = dict(arch=TINY, dataset="synthetic", n_train=800, n_test=200, epochs=2, batch_size=32,
                    optimizer="adam", lr=0.003, seed=0, threads=1)
    settings.update(overrides)
    return TrainConfig(**settings)


def open_page(page: str, query: dict[str, str] | None = None, timeout: float = 60) -> AppTest:
    """Run app.py in AppTest, switch to ``page`` (e.g. "pages/build.py") with ``query`` in the URL."""
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    at.run()
    assert not at.exception, at.exception
    at.switch_page(page)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, at.exception
    return at


# A tiny CNN with named layers, for the tests that look inside a finished run.
TINY_SPEC = {"name": "tiny-cnn", "input_shape": [1, 16, 16], "num_classes": 4, "layers": [
    {"type": "Conv2d", "out_channels": 6, "kernel_size": 3, "name": "conv1"}, {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2},
    {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "name": "conv2"}, {"type": "ReLU"},
    {"type": "Flatten"}, {"type": "Linear", "out_features": 4, "name": "fc"}]}


def train_tiny_run(home: Path, *, epochs: int = 2, n_test: int = 120) -> str:
    """Train a tiny CNN on 16×16 synthetic shapes (4 classes) into the run store at ``home``; ~1 s.

    Used through the ``finished_run`` fixture (tests/conftest.py) and by tests/e2e/test_e2e_predict.py.
    """
    from cnnedu.runs.worker import run_inline
    from cnnedu.training.config import TrainConfig

    old = os.environ.get("CNNEDU_HOME")
    os.environ["CNNEDU_HOME"] = str(home)
    try:
        config = TrainConfig(arch=TINY_SPEC, dataset="synthetic", n_train=400, n_test=n_test, epochs=epochs,
                             batch_size=32, optimizer="adam", lr=0.01, threads=1, seed=3)
        run_id, result = run_inline(config)
    finally:
        if old is None:
            os.environ.pop("CNNEDU_HOME", None)
        else:
            os.environ["CNNEDU_HOME"] = old
    assert result is not None and result.status == "done", result and result.message
    return run_id


def wait_for(condition, timeout: float = 60.0, what: str = "condition"):
    """The first true value of ``condition()``, polled every 50 ms; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
