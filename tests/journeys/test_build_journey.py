"""Student journeys on the Build page, in a real browser (headless Chromium at 1280×720).

J1 (seed 000 Task 1.2): start blank and type LeNet on a 1×64×64 input, layer by layer, checking after every
cell that the edit stuck; the totals read 338,186 parameters (worked out by hand below); a reload keeps it.
J2 (seed 002 part b): the CNN2 as a student first writes it (no padding, fc1 still expecting 3136) shows the
error on fc1; fixing the padding in the table makes it fit; moving, duplicating and deleting rows right
after edits loses none of them.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from cnnedu.arch.zoo import DOCUMENT_ANSWERS
from cnnedu.ui.state import encode
from tests.journeys.student import Student

TABLE = "layers_"  # the Build page's editor (key layers_<version>)

# LeNet on 1×64×64 (000 Task 1.2), as a student types it: (type, name, settings).
LENET_64 = [
    ("Conv2d", "conv1", "out_channels=6, kernel_size=5"),
    ("ReLU", "", ""),
    ("MaxPool2d", "pool1", "kernel_size=2"),
    ("Conv2d", "conv2", "out_channels=16, kernel_size=5"),
    ("ReLU", "", ""),
    ("MaxPool2d", "pool2", "kernel_size=2"),
    ("Flatten", "", ""),
    ("Linear", "fc1", "out_features=120"),
    ("ReLU", "", ""),
    ("Linear", "fc2", "out_features=84"),
    ("ReLU", "", ""),
    ("Linear", "fc3", "out_features=10"),
]
# By hand: 64 −5+1 = 60, /2 = 30, −5+1 = 26, /2 = 13, so fc1 sees 16·13·13 = 2704 features.
LENET_64_PARAMS = (5 * 5 * 1 * 6 + 6) + (5 * 5 * 6 * 16 + 16) + (2704 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)


def set_row(s: Student, row: int, layer: tuple[str, str, str]) -> None:
    """Types one layer into a row, checking that each cell shows what was typed once the app has rerun."""
    type_name, name, settings = layer
    if s.cell(TABLE, row, "type") != type_name:
        s.choose_in_cell(TABLE, row, "type", type_name)
        assert s.cell(TABLE, row, "type") == type_name
    for column, text in (("name", name), ("settings", settings)):
        if s.cell(TABLE, row, column) != text:
            s.edit_cell(TABLE, row, column, text)
            assert s.cell(TABLE, row, column) == text, f"row {row} {column}: the edit did not stick"


def table_layers(s: Student) -> list[tuple[str, str, str]]:
    return [(s.cell(TABLE, r, "type"), s.cell(TABLE, r, "name"), s.cell(TABLE, r, "settings"))
            for r in range(s.rows(TABLE))]


def test_j1_type_lenet_on_64x64_cell_by_cell_and_keep_it_over_a_reload(student):
    s = student
    assert LENET_64_PARAMS == 338_186
    s.open("build")
    s.choose("Start from", "a blank network")
    assert table_layers(s) == [("Flatten", "", ""), ("Linear", "", "out_features=10")]
    for label, value in (("Channels", "1"), ("Height", "64"), ("Width", "64")):
        s.type_into(label, value)
        assert s.value(label) == value
    for row, layer in enumerate(LENET_64):
        if row >= s.rows(TABLE):
            s.add_row(TABLE)
        set_row(s, row, layer)
        assert table_layers(s)[: row + 1] == LENET_64[: row + 1], "an earlier edit was lost"
    s.sees(f"{LENET_64_PARAMS:,}")
    s.shot("j1-build-lenet64-typed")
    s.tab("Layer by layer")
    layers = s.column_values("build_analysis", "layer")
    fc1 = layers.index("fc1")
    assert s.cell("build_analysis", fc1, "input") == "2704"  # 16·13·13, worked out by hand above
    assert s.cell("build_analysis", layers.index("conv2"), "output") == "16×26×26"
    s.shot("j1-build-layer-by-layer")

    s.reload()
    assert [s.value(k) for k in ("Channels", "Height", "Width")] == ["1", "64", "64"]
    s.tab("Edit layers")
    assert table_layers(s) == LENET_64
    s.sees(f"{LENET_64_PARAMS:,}")

    other = s.new_tab()  # the same link in a second tab: the same network
    other.tab("Edit layers")
    assert table_layers(other) == LENET_64
    other.sees(f"{LENET_64_PARAMS:,}")

    # Check my answer, on the network just typed: the document's hand calculation, typed in by hand.
    s.sidebar("Check my answer")
    assert "Current build" in s.selected("Network to check")
    for row, claim in enumerate(DOCUMENT_ANSWERS["lenet-64x64-gray"]["layers"]):
        for column, field in (("your output shape", "output_shape"), ("your params", "params")):
            if claim and field in claim:
                s.edit_cell(ANSWERS, row, column, str(claim[field]))
                assert s.cell(ANSWERS, row, column) == str(claim[field])
    s.type_into("Your total number of parameters", "443706")
    check_marks_the_document(s)
    s.shot("j1-check-document-typed")
    s.reload()
    check_marks_the_document(s)
    assert s.cell(ANSWERS, 7, "your params") == "432120"
    # Back to Build through the sidebar after that reload: the typed network is still the build.
    s.sidebar("Build")
    s.sees(f"{LENET_64_PARAMS:,}")
    s.tab("Edit layers")
    assert table_layers(s) == LENET_64


ANSWERS = "answers_"  # the Check page's answers grid


def check_marks_the_document(s: Student) -> None:
    """000 Task 1.2's hand calculation has 5 mistakes among its 13 claims, each named (cf. test_answers)."""
    s.sees("8 of 13")
    for words in ("1 input channel", "pooled the 30×30 input of conv2 instead of its 26×26 output",
                  "15×15×16 = 3600", "one score per class", "2 of them are wrong"):
        expect(s.page.locator('[data-testid="stMarkdownContainer"]').get_by_text(
            re.compile(re.escape(words))).first).to_be_visible()


def cnn2_as_first_written() -> dict:
    """002 part b's CNN2 before its fix: 5×5 convs without padding, fc1 still declared for 64·7·7 = 3136."""
    conv = lambda name, out: {"type": "Conv2d", "name": name, "out_channels": out, "kernel_size": 5}  # noqa: E731
    return {"name": "cnn2", "input_shape": [1, 28, 28], "num_classes": 10, "layers": [
        conv("conv1", 32), {"type": "ReLU"}, {"type": "MaxPool2d", "name": "pool1", "kernel_size": 2},
        conv("conv2", 64), {"type": "ReLU"}, {"type": "MaxPool2d", "name": "pool2", "kernel_size": 2},
        {"type": "Flatten"}, {"type": "Linear", "name": "fc1", "out_features": 256, "in_features": 3136},
        {"type": "ReLU"}, {"type": "Linear", "name": "fc2", "out_features": 10},
        {"type": "LogSoftmax"}]}


def test_j2_fix_cnn2_in_the_table_then_move_duplicate_and_delete_without_losing_edits(student):
    s = student
    s.open("build?spec=" + encode(cnn2_as_first_written()))
    # 28 −5+1 = 24, /2 = 12, −5+1 = 8, /2 = 4: fc1 receives 64·4·4 = 1024 features, not 3136.
    error = " ".join(s.errors())
    assert "fc1" in error and "3136" in error and "1024" in error, error
    s.shot("j2-cnn2-broken")
    s.tab("Layer by layer")  # on a projector, the table is on screen without scrolling past the editor
    assert s.column_values("build_analysis", "layer")[-1] == "✗ fc1"  # the sizes up to the failing layer
    s.tab("Edit layers")

    s.edit_cell(TABLE, 0, "settings", "out_channels=32, kernel_size=5, padding=2")
    assert "padding=2" in s.cell(TABLE, 0, "settings")
    s.edit_cell(TABLE, 3, "settings", "out_channels=64, kernel_size=5, padding=2")
    assert "padding=2" in s.cell(TABLE, 0, "settings") and "padding=2" in s.cell(TABLE, 3, "settings")
    assert s.errors() == []  # 28 → 28 → 14 → 14 → 7: 64·7·7 = 3136, as fc1 says
    params = (5 * 5 * 1 * 32 + 32) + (5 * 5 * 32 * 64 + 64) + (3136 * 256 + 256) + (256 * 10 + 10)
    s.sees(f"{params:,}")
    s.shot("j2-cnn2-fixed")
    s.page.locator('[data-testid="stMain"]').evaluate("e => e.scrollTo(0, 0)")
    s.tab("Layer by layer")
    analysis = s.grid("build_analysis").bounding_box()
    assert analysis["y"] < 650, f"the layer-by-layer table starts at y={analysis['y']:.0f} px"
    assert s.cell("build_analysis", 7, "input") == "3136"
    s.shot("j2-cnn2-layer-by-layer")
    s.tab("Edit layers")

    # An edit, then at once a move: the move keeps the edit (it used to undo it).
    s.edit_cell(TABLE, 7, "settings", "out_features=128, in_features=3136")
    s.choose("Layer", "7: Linear fc1")
    s.click("Down")
    layers = table_layers(s)
    assert layers[8] == ("Linear", "fc1", "out_features=128, in_features=3136"), layers
    assert layers[7][0] == "ReLU"
    s.click("Up")
    assert table_layers(s)[7] == ("Linear", "fc1", "out_features=128, in_features=3136")
    # An edit, then a duplicate of the edited row, then a delete of the copy.
    s.edit_cell(TABLE, 3, "settings", "out_channels=48, kernel_size=5, padding=2")
    s.choose("Layer", "3: Conv2d conv2")
    s.click("Duplicate")
    layers = table_layers(s)
    assert len(layers) == 12 and layers[3] == layers[4][:1] + ("conv2",) + layers[4][2:] or layers[4][2] == layers[3][2]
    assert layers[3][2] == "out_channels=48, kernel_size=5, padding=2" == layers[4][2]
    s.click("Delete")  # the copy, which the picker now shows
    layers = table_layers(s)
    assert len(layers) == 11 and layers[3][2] == "out_channels=48, kernel_size=5, padding=2"
    assert layers[0][2] == "out_channels=32, kernel_size=5, padding=2" and layers[7][1] == "fc1"
    s.shot("j2-after-moves")
    s.reload()
    assert table_layers(s) == layers


def test_j5_build_mistakes_get_a_message_and_the_page_keeps_working(student):
    s = student
    s.open("build")
    s.choose("Start from", "a blank network")
    s.edit_cell(TABLE, 1, "settings", "out_features=ten")
    s.sees("Layer 1 (Linear): out_features must be a whole number ≥ 1, got 'ten'.")
    assert s.cell(TABLE, 1, "settings") == "out_features=ten"  # what was typed stays, to be corrected
    s.edit_cell(TABLE, 1, "settings", "out_features=" + "9" * 30)  # a huge number
    s.sees(re.compile(r"Layer 1 \(Linear\): out_features is a number with 30 digits, far more than any network"))
    s.shot("j5-build-huge")
    s.edit_cell(TABLE, 1, "settings", "out_features=10")
    s.sees("7,850")
    assert s.errors() == []  # 28·28·10 + 10

    # Delete every layer: an empty network is not shown as valid, and offers nothing to download.
    s.click("Delete")
    s.click("Delete")
    s.sees("This network has no layers yet")
    expect(s.grid(TABLE).locator("tbody tr")).to_have_count(0)
    s.does_not_see("7,850")
    s.tab("PyTorch code")
    assert s.page.get_by_role("button", name="Download PyTorch code (.py)").count() == 0
    s.shot("j5-build-empty")
