"""Shared pytest fixtures for cnnedu's tests.

Every test:
    * runs with ``CNNEDU_HOME`` and ``CNNEDU_DATA`` pointing into its own temporary folder (autouse),
      so no test reads or writes the user's ``~/.cnnedu``.

Browser (end-to-end) tests ask for these fixtures; a test that uses them is marked ``e2e``
automatically (``pytest -m "not e2e"`` skips them):
    * ``app_server``: base URL (``http://localhost:PORT``) of ``streamlit run app.py``, started once
      per test session with its own temporary ``CNNEDU_HOME`` (``app_server_home``, where its output goes
      to ``streamlit.log``);
    * ``browser_page``: a Playwright page (sync API) in Debian's Chromium, 1280x720, fresh per test.
      If /usr/bin/chromium is missing the test FAILS with a message saying what to install.
The helpers to use with them (``open_app``, ``wait_for_app``, ``screenshot``, ``assert_no_exception``)
are in ``tests/e2e_helpers.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO_ROOT,
    VIEWPORT,
    chromium_missing_message,
    streamlit_server,
)
from tests.helpers import train_tiny_run

_E2E_FIXTURES = {"app_server", "browser_page", "chromium"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks every test that uses a browser fixture as ``e2e``."""
    for item in items:
        if _E2E_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def cnnedu_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cnnedu home for each test: ``$CNNEDU_HOME`` = tmp/cnnedu-home, ``$CNNEDU_DATA`` = its data/,
    and ``$CNNEDU_FOLDERS`` = tmp (image folders a test makes there may be read)."""
    home = tmp_path / "cnnedu-home"
    data = home / "data"
    data.mkdir(parents=True)
    monkeypatch.setenv("CNNEDU_HOME", str(home))
    monkeypatch.setenv("CNNEDU_DATA", str(data))
    monkeypatch.setenv("CNNEDU_FOLDERS", str(tmp_path))  # the test's own folders count as the owner's
    return home


@pytest.fixture(scope="session")
def app_server_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``CNNEDU_HOME`` of ``app_server``; the server's terminal output is its ``streamlit.log``."""
    return tmp_path_factory.mktemp("app-server-home")


@pytest.fixture(scope="session")
def app_server(app_server_home: Path) -> Iterator[str]:
    """Base URL of the app (``streamlit run app.py``), shared by all browser tests of the session."""
    app = REPO_ROOT / "app.py"
    if not app.exists():
        pytest.fail(f"{app} is missing: the browser tests need the app's entry point.")
    with streamlit_server(app, app_server_home) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Debian's Chromium, headless, started once for the whole session (Playwright's sync API allows one
    running instance per thread). Fails with what to install if Chromium is missing."""
    problem = chromium_missing_message()
    if problem:
        pytest.fail(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium) -> Iterator[object]:
    """A fresh Playwright page (a new browser context: no cookies, no tabs) at 1280x720."""
    context = chromium.new_context(viewport=VIEWPORT)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def _trained_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A run store with one finished tiny run, trained once per test module (about a second)."""
    home = tmp_path_factory.mktemp("trained-home")
    return home, train_tiny_run(home)


@pytest.fixture
def finished_run(_trained_home: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """The id of a finished tiny run; CNNEDU_HOME points at its run store."""
    home, run_id = _trained_home
    monkeypatch.setenv("CNNEDU_HOME", str(home))
    return run_id
