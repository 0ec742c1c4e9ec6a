"""Helpers for real-browser end-to-end tests: a Streamlit server, Chromium, and waiting for the app.

The fixtures in ``tests/conftest.py`` use these; tests use the fixtures (``app_server``,
``browser_page``) and the small helpers below::

    from tests.e2e_helpers import assert_no_exception, open_app, screenshot, wait_for_app

    def test_build_page_shows_lenet(app_server, browser_page):
        open_app(browser_page, app_server, "build")     # loads the page, waits for the script to finish
        browser_page.get_by_text("conv1").first.wait_for()
        assert_no_exception(browser_page)
        screenshot(browser_page, "build-lenet")           # out/screenshots/build-lenet.png

Streamlit reruns the script after every widget change: after a click or a typed value call
``wait_for_app(page)`` before reading the page. On a busy machine a rerun can start late, so also
wait for what you expect to see, e.g. ``expect(page.get_by_text("Done")).to_be_visible()``
(``from playwright.sync_api import expect``), rather than reading the page once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT_DIR = REPO_ROOT / "out" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
# Flags for Chromium as root in a sandboxed, offline machine: no sandbox, no GPU, and none of the
# background connections (updates, sync, QUIC) that a closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 720}  # a classroom projector
SERVER_START_TIMEOUT_S = 60.0
APP_RUN_TIMEOUT_MS = 60_000

# The app root carries its state as attributes (Streamlit's own e2e tests wait on them).
_APP_IDLE = (
    '[data-testid="stApp"][data-test-script-state="notRunning"][data-test-connection-state="CONNECTED"]'
)


def free_port() -> int:
    """A TCP port on localhost that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(log_path: Path, chars: int = 4000) -> str:
    try:
        return log_path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen) -> None:
    """Stops the server and everything it started (it runs in its own process group)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def streamlit_server(
    script: Path | str,
    home: Path,
    *,
    cwd: Path = REPO_ROOT,
    extra_env: dict[str, str] | None = None,
    timeout_s: float = SERVER_START_TIMEOUT_S,
) -> Iterator[str]:
    """Runs ``streamlit run SCRIPT`` on a free localhost port and yields its base URL.

    ``home`` becomes ``CNNEDU_HOME`` (and ``home/data`` ``CNNEDU_DATA``), so the server never touches
    the user's ``~/.cnnedu``. The server's output goes to ``home/streamlit.log``; it is quoted in the
    error when the server does not come up. The server is stopped when the ``with`` block ends.
    """
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        CNNEDU_HOME=str(home),
        CNNEDU_DATA=str(home / "data"),
        PYTHONUNBUFFERED="1",
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
    )
    env.update(extra_env or {})
    command = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.port", str(port),
        "--server.address", "localhost",
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    log_path = home / "streamlit.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so _stop ends its children too
        )
    base_url = f"http://localhost:{port}"
    try:
        _wait_until_healthy(process, base_url, log_path, timeout_s)
        yield base_url
    finally:
        _stop(process)


def _wait_until_healthy(process: subprocess.Popen, base_url: str, log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"The Streamlit server exited with code {process.returncode} before answering.\n"
                f"Its output ({log_path}):\n{_log_tail(log_path)}"
            )
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if time.monotonic() > deadline:
            _stop(process)
            raise RuntimeError(
                f"The Streamlit server did not answer {base_url}/_stcore/health within {timeout_s:.0f} s.\n"
                f"Its output ({log_path}):\n{_log_tail(log_path)}"
            )
        time.sleep(0.25)


def chromium_missing_message() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return (
            f"Browser tests need Debian's Chromium at {CHROMIUM}, which is missing. "
            "Install it with `sudo apt-get install chromium` (./run.sh test does this when it can)."
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return (
            "Browser tests need the Python package playwright: "
            "`.venv/bin/pip install -r requirements-dev.txt -c constraints.txt` (or ./run.sh test)."
        )
    return None


def wait_for_app(page, timeout_ms: int = APP_RUN_TIMEOUT_MS) -> None:
    """Waits until Streamlit is connected and its script has finished running (no 'Running...').

    Call after loading a page and after every interaction that reruns the script.
    """
    page.wait_for_selector('[data-testid="stApp"]', state="attached", timeout=timeout_ms)
    # A rerun starts a moment after a click; give it the chance to begin before waiting for its end.
    page.wait_for_timeout(150)
    page.wait_for_selector(_APP_IDLE, state="attached", timeout=timeout_ms)
    page.wait_for_selector('[data-testid="stStatusWidgetRunningIcon"]', state="detached", timeout=timeout_ms)


_COUNT_RUNS = """() => {
  if (window.__cnneduRuns === undefined) {
    window.__cnneduRuns = 0;
    const app = document.querySelector('[data-testid="stApp"]');
    new MutationObserver(() => {
      if (app.getAttribute('data-test-script-state') === 'running') window.__cnneduRuns += 1;
    }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  }
  return window.__cnneduRuns;
}"""


def runs_started(page) -> int:
    """How many script runs this page has started since it was first asked (an observer on the app root)."""
    return page.evaluate(_COUNT_RUNS)


def wait_for_rerun(page, before: int, start_ms: int = 3000, timeout_ms: int = APP_RUN_TIMEOUT_MS) -> None:
    """After an action that must rerun the script (an edit in a grid, which the browser sends a moment
    later): waits for a run after ``before`` (runs_started) to begin, then for the app to be idle.

    A rerun that began and ended between two checks is still counted; if none starts within ``start_ms``
    the wait goes on as wait_for_app does (an edit that changed nothing reruns nothing).
    """
    try:
        page.wait_for_function(f"window.__cnneduRuns > {before}", timeout=start_ms)
    except Exception:  # noqa: BLE001 - no rerun came; fall through to the ordinary wait
        pass
    wait_for_app(page, timeout_ms)


def open_app(page, base_url: str, path: str = "", timeout_ms: int = APP_RUN_TIMEOUT_MS) -> None:
    """Opens ``base_url/path`` (a page's URL path, e.g. "train"; "" for the start page) and waits."""
    page.goto(f"{base_url}/{path.lstrip('/')}", wait_until="domcontentloaded", timeout=timeout_ms)
    wait_for_app(page, timeout_ms)


def exception_texts(page) -> list[str]:
    """The texts of the Python exceptions Streamlit shows on the page (st.exception / uncaught)."""
    return [element.inner_text() for element in page.locator('[data-testid="stException"]').all()]


def assert_no_exception(page) -> None:
    """Fails the test if the page shows a Python exception (a traceback a student would see)."""
    shown = exception_texts(page)
    assert not shown, "The page shows an exception:\n" + "\n---\n".join(shown)


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Saves a PNG of the page as out/screenshots/NAME.png (for people to look at) and returns its path."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
