"""Fixtures of the student journeys: one Chromium for the whole session, a fresh browser (context) per
journey at 1280×720, and the one app server of the session (``app_server`` in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e_helpers import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, chromium_missing_message
from tests.journeys.student import Student


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    problem = chromium_missing_message()
    if problem:
        pytest.fail(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def student(chromium, app_server) -> Iterator[Student]:
    """A student with a fresh browser (no cookies, no tabs) on the session's app server."""
    context = chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    try:
        yield Student(context.new_page(), app_server)
    finally:
        context.close()
