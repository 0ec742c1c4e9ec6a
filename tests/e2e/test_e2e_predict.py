"""Real browser (headless Chromium): upload an image on the Predict page and see its top-k chart; open Look
inside and see the filters, the confusion matrix and the mistakes. Screenshots land in out/screenshots/.

The browser tests share one Streamlit server (``app_server`` in tests/conftest.py) with its own
CNNEDU_HOME, a temporary folder named ``app-server-home*``; a tiny run is trained into that run store
first, so the pages have a finished run to show.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e_helpers import REPO_ROOT, assert_no_exception, open_app, screenshot, wait_for_app
from tests.helpers import train_tiny_run


@pytest.fixture(scope="module")
def server_run(app_server, tmp_path_factory) -> str:
    """Train a tiny run into the app server's own run store and return its id."""
    found = tmp_path_factory.getbasetemp().glob("app-server-home*")  # pytest adds a "...current" symlink
    homes = sorted({p.resolve() for p in found if (p / "streamlit.log").exists()})
    assert len(homes) == 1, f"cannot find the app server's CNNEDU_HOME (found {homes})"
    return train_tiny_run(homes[0], epochs=3)


def test_upload_an_image_and_see_its_top_k_chart(app_server, server_run, browser_page, tmp_path):
    page = browser_page
    open_app(page, app_server, "predict")
    assert_no_exception(page)
    expect(page.get_by_text("Parity check").first).to_be_visible(timeout=60_000)
    image = REPO_ROOT / "assets" / "samples" / "synthetic" / "1-cross.png"
    assert image.is_file(), "run assets/make_samples.py"
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(image))
    wait_for_app(page)
    expect(page.get_by_text("1-cross.png → ").first).to_be_visible(timeout=60_000)
    assert_no_exception(page)
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    expect(charts.first).to_be_visible(timeout=30_000)
    assert charts.count() >= 1
    expect(page.get_by_text("top-1 agrees").first).to_be_visible()
    page.set_viewport_size({"width": 1400, "height": 1800})
    page.wait_for_timeout(800)
    screenshot(page, "predict-upload")

    # a broken file: an error for it, the others are still predicted
    broken = tmp_path / "broken.png"
    broken.write_bytes(image.read_bytes()[:50])
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files([str(image), str(broken)])
    wait_for_app(page)
    error = page.locator('[data-testid="stAlertContentError"]').first
    expect(error).to_be_visible(timeout=30_000)
    assert "broken.png: This file is not an image" in error.inner_text()
    expect(page.get_by_text("1-cross.png → ").first).to_be_visible()
    assert_no_exception(page)
    screenshot(page, "predict-broken-image")


def test_look_inside_shows_filters_and_confusion_matrix(app_server, server_run, browser_page):
    page = browser_page
    open_app(page, app_server)
    open_app(page, app_server, "inside")
    assert_no_exception(page)
    expect(page.get_by_role("heading", name="First-layer filters")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("6 filters of conv1").first).to_be_visible()
    expect(page.get_by_role("heading", name="Confusion matrix")).to_be_visible()
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    expect(charts.first).to_be_visible(timeout=30_000)
    assert charts.count() == 2  # the heatmap and the per-class accuracy
    expect(page.get_by_text("mistakes first").first).to_be_visible()
    # Streamlit scrolls inside its own container, so a full-page picture is only one screen high: make the
    # window tall enough for the filters, the feature maps and the confusion matrix together.
    page.set_viewport_size({"width": 1400, "height": 2600})
    wait_for_app(page)
    page.wait_for_timeout(800)  # let vega finish drawing before the picture
    screenshot(page, "inside")
