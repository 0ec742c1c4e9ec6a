"""The training charts stay readable when a run has one point or a constant curve (a run that diverged at
its first epoch used to show one dot with the axis labelled '2.313441' from top to bottom)."""

from __future__ import annotations

import pandas as pd
import pytest

from cnnedu.ui.charts import compare_chart, loss_chart


def _encoding(chart, channel: str) -> dict:
    spec = chart.to_dict()
    layers = spec.get("layer") or [spec]
    return layers[0]["encoding"][channel]


def test_one_loss_point_gets_an_axis_with_room_on_both_sides_and_short_ticks():
    steps = pd.DataFrame({"step": [10], "loss": [2.313441], "epoch": [1]})
    y = _encoding(loss_chart(steps), "y")
    low, high = y["scale"]["domain"]
    assert low == pytest.approx(2.313441 * 0.9) and high == pytest.approx(2.313441 * 1.1)  # 10 % each side
    assert y["axis"]["format"] == ".3~g"  # ticks like 2.2, 2.3, 2.4: three significant digits at most
    x = _encoding(loss_chart(steps), "x")
    assert x["scale"]["domain"] == [9.0, 11.0] and x["axis"]["format"] == "d"


def test_a_curve_that_moves_keeps_the_automatic_axis():
    steps = pd.DataFrame({"step": [1, 2, 3], "loss": [2.3, 1.1, 0.6], "epoch": [1, 1, 1]})
    assert "domain" not in _encoding(loss_chart(steps), "y")["scale"]


def test_runs_overlaid_with_one_epoch_each_show_a_padded_epoch_axis_and_full_legend_labels():
    data = pd.DataFrame({"epoch": [1, 1], "value": [0.5, 0.5], "run": ["lr=0.01", "lr=0.001"], "id": ["a", "b"]})
    chart = compare_chart(data, "epoch", "value", "loss", x_title="epoch", y_title="loss")
    encoding = chart.to_dict()["encoding"]
    assert encoding["y"]["scale"]["domain"] == [pytest.approx(0.45), pytest.approx(0.55)]
    assert encoding["color"]["legend"].get("labelLimit", 0) == 0 or encoding["color"]["legend"]["labelLimit"] > 200
