"""A student checks the coursework's hand calculation of LeNet on 1×64×64 (000 Task 1.2) in a real browser:
loads the document's answers, sees its five mistakes named, corrects one by typing a sum, types something
unreadable in another cell, and keeps everything through a reload, a trip to Build and a second tab."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.journeys.student import Student

NET = "lenet-64x64-gray"
TABLE = f"answers_{NET}_table"  # the answers grid (its key is this plus a version)
ABC = "Layer 7 (fc1), your params: cannot read 'abc'"


def sees_hint(s: Student, words: str) -> None:
    """The hint is written out under the tables (the tables' own cells are canvas, hidden to the reader)."""
    hints = s.page.locator('[data-testid="stMarkdownContainer"]').get_by_text(re.compile(re.escape(words)))
    expect(hints.first).to_be_visible(timeout=30_000)


def sees_the_state_after_the_edits(s: Student) -> None:
    s.sees("9 of 12")
    assert NET in s.selected("Network to check")
    assert s.cell(TABLE, 3, "your params") == "5*5*6*16+16"
    assert s.cell(TABLE, 7, "your params") == "abc"
    assert s.cell(TABLE, 0, "your output shape") == "60 x 60 x 6"
    assert s.value("Your total number of parameters") == "443706"
    assert any(ABC in e for e in s.errors()), s.errors()
    sees_hint(s, "pooled the 30×30 input of conv2 instead of its 26×26 output")


def test_check_the_documents_hand_calculation_and_keep_it(student: Student):
    s = student
    s.open("check")
    s.sees("Check my answer")
    s.choose("Network to check", NET)
    assert NET in s.selected("Network to check")
    s.shot("check-empty")

    s.click(re.compile("Fill in the document's own hand calculation"))
    s.sees("8 of 13")  # 7 shapes, 5 counts and the total; 5 wrong
    assert s.cell(TABLE, 3, "your params") == "416"
    for words in ("1 input channel", "pooled the 30×30 input of conv2 instead of its 26×26 output",
                  "15×15×16 = 3600", "one score per class", "2 of them are wrong"):
        sees_hint(s, words)
    assert s.errors() == []
    s.shot("check-document")

    s.edit_cell(TABLE, 3, "your params", "5*5*6*16+16")  # conv2: 5·5·6·16 + 16 = 2416
    s.sees("9 of 13")
    assert s.cell(TABLE, 3, "your params") == "5*5*6*16+16"
    s.does_not_see(re.compile("Layer 3 \\(conv2\\), params"))  # no longer among the mistakes

    s.edit_cell(TABLE, 7, "your params", "abc")  # fc1: unreadable, the other cells are still marked
    s.sees("9 of 12")
    assert [e for e in s.errors() if ABC in e], s.errors()
    assert "5*5*3*6+6" in s.errors()[0]
    sees_hint(s, "one score per class")  # fc3's shape is still marked wrong
    s.shot("check-abc")

    s.reload()
    sees_the_state_after_the_edits(s)
    s.shot("check-reloaded")

    s.sidebar("Build")
    s.sees(re.compile("Layer by layer|Build"))
    s.sidebar("Check my answer")
    sees_the_state_after_the_edits(s)

    other = s.new_tab()
    sees_the_state_after_the_edits(other)
    other.shot("check-second-tab")
