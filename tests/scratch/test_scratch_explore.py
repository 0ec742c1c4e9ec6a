"""What the From-scratch page shows (cnnedu/scratch/explore.py), checked without a browser."""

from __future__ import annotations

import math

import pytest

from cnnedu import budgets
from cnnedu.errors import ScratchError
from cnnedu.scratch import explore


def test_the_affine_check_reads_as_the_layer_is_written():
    result = explore.check("affine", size=5, h=1e-5)
    # x (batch 2, size 5) · w (5, 3) + b (3) → 2×3: the layer's own description, worked out by hand
    assert "Input x 2×5, w 5×3, b 3 → output 2×3." in explore.summary(result)
    assert explore.verdict(result).startswith("Every gradient agrees")
    rows = explore.gradient_rows(result)
    assert [(r["gradient"], r["shape"]) for r in rows] == [("dx", "2×5"), ("dw", "5×3"), ("db", "3")]
    assert all(r["verdict"] == "✓ agrees" and float(r["backward vs torch autograd"]) <= 1e-7 for r in rows)
    names = [name for name, _ in explore.arrays(result)]
    assert names[:4] == ["x (2×5)", "w (5×3)", "b (3)", "output (2×3)"]
    assert all(table.ndim == 2 for _, table in explore.arrays(result))


def test_a_large_step_breaks_the_softmax_check_and_the_sweep_shows_the_v():
    large = explore.check("softmax_loss", size=4, h=1e-1)
    assert not large.ok and "h = 0.1 is too large" in explore.verdict(large)
    sweep = [r for r in explore.error_sweep("softmax_loss", size=4) if r["compared with"] == "numerical gradient"]
    by_h = {r["h"]: r["relative error"] for r in sweep}
    # centred differences: error ∝ h² for a large h, ∝ eps/h for a tiny one, smallest in between
    assert by_h[1e-1] > 100 * by_h[1e-5] and by_h[1e-12] > 100 * by_h[1e-5]
    note = explore.sweep_note(explore.error_sweep("softmax_loss", size=4))
    assert "closest at h = 1e-" in note and "∝ h²" in note


def test_a_linear_layer_is_exact_for_any_h_and_the_note_says_so():
    note = explore.sweep_note(explore.error_sweep("affine", size=4))
    assert "linear in each of its inputs" in note


def test_several_gradients_off_for_one_reason_are_named_in_one_sentence():
    result = explore.check("conv_naive", size=3, h=1e-12)
    text = explore.verdict(result)
    assert text.startswith("dx, dw and db do not agree") and text.count("too small") == 1, text


def test_fit_settings_read_what_a_student_types_and_refuse_the_rest():
    settings = explore.FitSettings.read(" 100 ; 50 ", 3, 50, 0.01, 420)
    assert settings.hidden == (100, 50) and settings.steps == 3 * 9  # ⌈420/50⌉ = 9 batches an epoch
    for hidden in ("", "100, abc", "0", "5O", ", ".join(["10"] * (budgets.SCRATCH_MAX_LAYERS + 1))):
        with pytest.raises(ScratchError, match="cannot be read"):
            explore.FitSettings.read(hidden, 1, 10, 0.01, 100)
    with pytest.raises(ScratchError, match="larger than the 100 training images"):
        explore.FitSettings.read("10", 1, 200, 0.01, 100)
    with pytest.raises(ScratchError, match="training steps"):
        explore.FitSettings.read("10", budgets.SCRATCH_MAX_EPOCHS, 1, 0.01, 100)


def test_the_comparison_agrees_is_kept_and_starts_at_ln4():
    settings = explore.FitSettings.read("20", 1, 40, 0.05, 80)
    assert explore.cached_comparison(settings) is None
    seen = []
    result = explore.comparison(settings, on_step=lambda step, total, a, b: seen.append((step, total)))
    assert seen == [(1, 2), (2, 2)]  # ⌈80/40⌉ = 2 steps, each reported
    assert result.max_difference <= 1e-6
    assert abs(result.numpy_loss[0] - math.log(4)) < 0.05  # 4 classes, tiny weights: each about 1/4
    assert explore.cached_comparison(settings) is result  # a reload shows it without training again
    assert "agree to floating-point precision" in explore.comparison_note(result)
    rows = explore.comparison_rows(result)
    assert len(rows) == 4 and {r["network"] for r in rows} == {"NumPy (from scratch)", "PyTorch"}


def test_a_hand_edited_or_hostile_link_keeps_only_what_the_widgets_can_show():
    hostile = {"layer": "evil", "h": 5, "size": 10**9, "extra": 1}
    assert explore.gradient_link(hostile) == {} and explore.gradient_link([1, 2]) == {}
    assert explore.gradient_link({"layer": "relu", "h": 1e-3, "size": 3}) == {"layer": "relu", "h": 1e-3, "size": 3}
    assert explore.gradient_link({"layer": "relu", "h": 2e-3, "size": True}) == {"layer": "relu"}  # 2e-3: no step
    assert explore.fit_link({"hidden": ["x"], "epochs": -3, "batch": "a", "lr": 1e9, "n": 10**12}) == {}
    assert explore.fit_link({"hidden": "7", "epochs": 2, "batch": 5, "lr": 0.5, "n": 20}) == {
        "hidden": "7", "epochs": 2, "batch": 5, "lr": 0.5, "n": 20}
