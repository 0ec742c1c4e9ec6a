"""What several test files share: a tiny network and training settings that run in seconds, and
opening one page of the app in Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from cnnedu.train import TrainConfig

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
    """Run app.py in AppTest, switch to ``page`` (e.g. "views/build.py") with ``query`` in the URL."""
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    at.run()
    assert not at.exception, at.exception
    at.switch_page(page)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, at.exception
    return at
