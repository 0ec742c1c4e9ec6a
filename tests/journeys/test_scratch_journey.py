"""J8: a student doing seed 003 Part 1 on the From-scratch page, in a real browser at 1280×720.

They check the affine layer (every gradient agrees), switch to the softmax loss and drag the step h to its
largest value (the numerical check breaks, and the page says h is too large) and then to its smallest
(round-off), ask for a naive convolution too large to check (a message; the page keeps working), reload
(the layer and h stay); then train the NumPy network beside PyTorch: a hidden-layer list with a typo gets a
message, the fixed one trains with a progress bar, and both curves agree to 1e-6; a reload and a second tab
show the same result without training again; a hostile link opens the page at its defaults.
"""

from __future__ import annotations

import math
import re

from playwright.sync_api import expect

from cnnedu.ui.state import encode
from tests.journeys.student import Student

GRADS = "scratch_grads"
H = "Step h of the numerical gradient"
TRAIN_TAB = "Train NumPy beside PyTorch"


def errors_in(s: Student) -> dict[str, float]:
    """The gradients table as {gradient: (numerical error, torch error)}, read off the screen."""
    names = s.column_values(GRADS, "gradient")
    numeric = [float(v) for v in s.column_values(GRADS, "backward vs numerical")]
    torch = [float(v) for v in s.column_values(GRADS, "backward vs torch autograd")]
    return {n: (a, b) for n, a, b in zip(names, numeric, torch)}


def comparison_note(s: Student) -> str:
    """The paragraph under the Train button that compares the two curves."""
    s.sees(re.compile("Largest difference between the two losses"))
    return s.page.locator("p").filter(has_text="Largest difference between the two losses").first.inner_text()


def test_j8_check_gradients_break_them_with_h_then_train_numpy_beside_torch(student):
    s = student
    s.open("scratch")
    # affine: x (batch 2, size 4) · w (4, 3) + b (3) → 2×3, as the layer's description says
    s.sees(re.compile(r"Input x 2×4, w 4×3, b 3 → output 2×3"))
    s.sees("Every gradient agrees")
    errors = errors_in(s)
    assert set(errors) == {"dx", "dw", "db"}
    assert all(numeric <= 1e-7 and torch <= 1e-7 for numeric, torch in errors.values()), errors
    assert s.slider_value(H) == "1e-5"
    s.shot("j8-scratch-affine")

    s.choose("Layer", "softmax_loss")
    s.sees(re.compile(r"Input x 2×4 → output a number"))  # a loss: one number for the whole batch
    s.sees("Every gradient agrees")
    s.slide(H, "Home")  # h = 0.1: the centred difference is off by a term ∝ h² on a curved loss
    assert s.slider_value(H) == "1e-1"
    s.sees(re.compile("h = 0.1 is too large"))
    numeric, torch = errors_in(s)["dx"]
    assert numeric > 1e-7 and torch <= 1e-7, (numeric, torch)  # the estimate is off, not the backward pass
    s.shot("j8-scratch-large-h")
    s.slide(H, "End")  # h = 1e-12: round-off
    assert s.slider_value(H) == "1e-12"
    s.sees(re.compile("is too small"))

    s.choose("Layer", "conv_naive")
    s.type_into("Input size", "12")
    error = " ".join(s.errors())
    assert "from 1 to 8" in error and "naive convolution" in error, error
    s.type_into("Input size", "3")
    assert s.errors() == []
    s.sees(re.compile(r"Input x 2×2×3×3"))  # 2 images of 2 channels, 3×3

    s.reload()
    assert "conv_naive" in s.selected("Layer")
    expect(s.page.get_by_label("Input size", exact=True)).to_have_value("3")  # drawn a moment after the page
    assert s.slider_value(H) == "1e-12"

    # ---------------------------------------------------------------- NumPy and PyTorch, same weights
    s.tab(TRAIN_TAB)
    s.type_into("Hidden layers", "50, 5O")  # the letter O for a zero
    assert "cannot be read" in " ".join(s.errors())
    s.type_into("Hidden layers", "50")
    assert s.errors() == []
    s.type_into("Training images", "200")
    s.click("Train both")
    note = comparison_note(s)
    s.shot("j8-scratch-numpy-vs-torch")
    # the default 5 epochs of ⌈200/25⌉ = 8 batches: 40 steps
    found = re.search(r"over (\d+) steps: ([0-9.e+-]+)", note)
    assert found and int(found.group(1)) == 40, note
    assert float(found.group(2)) <= 1e-6, note
    first = float(re.search(r"First loss ([0-9.]+)", note).group(1))
    assert abs(first - math.log(4)) < 0.01, note  # tiny random weights: every class about 1/4

    s.reload()
    s.tab(TRAIN_TAB)
    expect(s.page.get_by_label("Hidden layers", exact=True)).to_have_value("50")  # drawn a moment after
    expect(s.page.get_by_label("Training images", exact=True)).to_have_value("200")
    assert comparison_note(s) == note  # shown again, not retrained
    other = s.new_tab()
    other.tab(TRAIN_TAB)
    assert comparison_note(other) == note

    # A hand-edited link with values no widget can show: the defaults, no error page.
    hostile = encode({"layer": "evil", "h": 5, "size": 10**9})
    other.open(f"scratch?grad={hostile}&fit={encode({'hidden': ['x'], 'epochs': -3, 'lr': 1e9})}")
    other.sees("Every gradient agrees")
    assert "affine" in other.selected("Layer") and other.slider_value(H) == "1e-5"
