"""Fixtures of the student journeys: a fresh browser (context) per journey at 1280×720 on the session's one
Chromium (``chromium``) and its one app server (``app_server``), both in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e_helpers import VIEWPORT
from tests.journeys.student import Student


@pytest.fixture
def student(chromium, app_server) -> Iterator[Student]:
    """A student with a fresh browser (no cookies, no tabs) on the session's app server."""
    context = chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    try:
        yield Student(context.new_page(), app_server)
    finally:
        context.close()
