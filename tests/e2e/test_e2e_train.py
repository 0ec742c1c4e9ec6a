"""Train in a real browser: start a run and watch its progress and curves stream in while it trains (the
overlay of two runs on the Runs page is journey J4's). Screenshots go to out/screenshots/."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from tests.e2e_helpers import VIEWPORT, assert_no_exception, open_app, screenshot, wait_for_app

STEP = re.compile(r"Epoch (\d+) of (\d+) · step (\d+) of (\d+)")


def set_number(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    wait_for_app(page)


def progress(page) -> tuple[int, int, int, int] | None:
    """(epoch, epochs, step, steps) from the progress bar's text, or None before the run reports steps."""
    bars = page.locator('[data-testid="stProgress"]')
    if bars.count() == 0:
        return None
    match = STEP.search(bars.first.inner_text())
    return tuple(int(g) for g in match.groups()) if match else None


def wait_for_progress(page, condition, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = progress(page)
        if now is not None and condition(now):
            return now
        page.wait_for_timeout(200)
    raise AssertionError(f"the progress never reached the expected state (last seen: {progress(page)})")


def watched_run(page) -> str | None:
    return parse_qs(urlparse(page.url).query).get("run", [None])[0]


def shoot(page, name: str) -> None:
    """A screenshot of the whole page: Streamlit scrolls inside its main area (typing into a number box
    scrolls it), so scroll that back to the top and make the window as tall as the content."""
    height = page.evaluate("""() => { let h = 0;
        for (const el of document.querySelectorAll('*')) {
            if (el.scrollTop > 0) el.scrollTop = 0;
            h = Math.max(h, el.scrollHeight);
        }
        return h; }""")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(max(VIEWPORT["height"], height), 3200)})
    page.wait_for_timeout(500)
    screenshot(page, name)
    page.set_viewport_size(VIEWPORT)


def start_run(page) -> str:
    """Press Start and return the new run's id (the page puts it in the address bar)."""
    before = watched_run(page)
    page.get_by_role("button", name="Start training").click()
    page.wait_for_function(f"() => new URLSearchParams(location.search).get('run') !== {before!r}".replace(
        "None", "null"), timeout=30_000)
    return watched_run(page)


def test_a_run_streams_its_progress_and_curves_while_it_trains(app_server, browser_page):
    page = browser_page
    open_app(page, app_server, "train")
    expect(page.get_by_text("Live view")).to_be_visible()
    set_number(page, "Training images", "4000")
    set_number(page, "Epochs", "5")
    set_number(page, "Validation share", "0.1")
    set_number(page, "Crop padding (px)", "3")
    page.get_by_text("Preview augmented samples").click()
    expect(page.get_by_text("after one random augmentation (crop ±3 px)")).to_be_visible()
    shoot(page, "train-0-settings")
    first = start_run(page)

    # The live view polls the run store every second: the step count and the curves grow.
    a = wait_for_progress(page, lambda p: p[2] > 0)
    expect(page.locator('[data-testid="stVegaLiteChart"]').first).to_be_visible()
    shoot(page, "train-1-running")
    b = wait_for_progress(page, lambda p: p[2] > a[2])
    assert b[2] > a[2] and b[3] == a[3] and b[1] == 5
    # epoch 3 or later, with more steps than b; or the end, when the run (on an idle machine) got there first
    c = wait_for_progress(page, lambda p: p[0] >= 3 and (p[2] > b[2] or p[2] == p[3]))
    assert c[0] > a[0] and c[2] >= b[2]
    page.wait_for_timeout(500)  # let the charts draw the newest points
    shoot(page, "train-2-epoch3")

    expect(page.get_by_text("Done.")).to_be_visible(timeout=60_000)
    wait_for_app(page)
    assert page.locator('[data-testid="stVegaLiteChart"]').count() == 2
    assert_no_exception(page)
    shoot(page, "train-3-done")
    assert parse_qs(urlparse(page.url).query).get("run") == [first]  # the watched run is in the address bar

    # Overlaying two runs of a learning-rate sweep on the Runs page: journey J4 (tests/journeys/test_train_journey.py).
