"""Real browser (headless Chromium): the app loads, the Build page shows the live analysis and survives a
reload, the Check page marks a hand calculation. Screenshots land in out/screenshots/."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e_helpers import assert_no_exception, open_app, screenshot, wait_for_app


def test_home_and_build_page_in_a_browser(app_server, browser_page):
    page = browser_page
    open_app(page, app_server)
    assert_no_exception(page)
    assert page.get_by_text("cnnedu — a CNN explorer").first.is_visible()
    screenshot(page, "home")

    open_app(page, app_server, "build")
    assert_no_exception(page)
    page.get_by_text("Layer by layer").first.wait_for()
    # The analysis table is a canvas grid; its totals are plain text above it (drawn once the table is read).
    expect(page.get_by_text("62,006").first).to_be_visible()
    screenshot(page, "build-lenet")

    # Change the height: the totals follow (fc1 grows with the image), and the URL keeps the build.
    height = page.get_by_label("Height")
    height.fill("64")
    height.press("Enter")
    wait_for_app(page)
    assert_no_exception(page)
    assert "spec=" in page.url
    page.reload()
    wait_for_app(page)
    assert page.get_by_label("Height").input_value() == "64"
    screenshot(page, "build-after-reload")


def test_build_page_shows_an_inline_error_for_a_layer_that_does_not_fit(app_server, browser_page):
    page = browser_page
    open_app(page, app_server, "build")
    page.get_by_label("Height").fill("8")
    page.get_by_label("Height").press("Enter")
    wait_for_app(page)
    page.get_by_label("Width").fill("8")
    page.get_by_label("Width").press("Enter")
    wait_for_app(page)
    assert_no_exception(page)
    error = page.locator('[data-testid="stAlertContentError"]').first
    error.wait_for()
    assert "larger than" in error.inner_text()
    screenshot(page, "build-error")


def test_check_page_in_a_browser(app_server, browser_page):
    page = browser_page
    open_app(page, app_server, "check")
    assert_no_exception(page)
    total = page.get_by_label("Your total number of parameters")
    total.fill("443706")
    total.press("Enter")
    wait_for_app(page)
    assert_no_exception(page)
    page.get_by_text("Marked right").first.wait_for()
    screenshot(page, "check")
