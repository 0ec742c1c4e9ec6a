"""A link to a page (e.g. one an instructor sends: http://server:8501/train) opened first on a freshly
started server shows the app as usual: the sidebar navigation, the wide layout and that page.

Streamlit runs such a first request from the pages/ folder by itself, around app.py's navigation; the
pages' ensure_navigation() (cnnedu/ui/nav.py) sends it back through app.py. Each page gets its own fresh
server, since only the very first request of a server is affected.
"""

from __future__ import annotations

import ast
import re

import pytest
from playwright.sync_api import expect

from cnnedu.ui.nav import PAGES
from tests.e2e_helpers import REPO_ROOT, VIEWPORT, streamlit_server
from tests.journeys.student import Student

TITLES = {"build": "Build a network", "check": "Check my answer", "train": "Train a network", "runs": "Runs",
          "inside": "Look inside", "predict": "Predict", "scratch": "From scratch"}


def first_statement(path) -> ast.stmt:
    """The first statement of a page script after its docstring, imports and constants (which draw nothing)."""
    body = ast.parse((REPO_ROOT / path).read_text()).body
    return next(n for n in body if not isinstance(n, ast.Import | ast.ImportFrom)
                and not (isinstance(n, ast.Expr | ast.Assign) and isinstance(n.value, ast.Constant | ast.Tuple)))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.url_path or "home")
def test_every_page_starts_with_ensure_navigation(page):
    """What the browser test below checks on two pages holds for every page: the guard runs before anything
    is drawn (each fresh server costs ~10 s, so the browser sees two pages, not all)."""
    statement = first_statement(page.path)
    assert isinstance(statement, ast.Expr) and ast.unparse(statement) == "ensure_navigation()", page.path


@pytest.mark.e2e
@pytest.mark.parametrize("url_path", ["train", "scratch"])  # the Train page's first request, and the newest page
def test_a_deep_link_on_a_fresh_server_shows_the_navigation_and_the_wide_layout(url_path, chromium, tmp_path):
    with streamlit_server(REPO_ROOT / "app.py", tmp_path / "home") as base_url:
        context = chromium.new_context(viewport=VIEWPORT)
        try:
            s = Student(context.new_page(), base_url)
            s.open(url_path)
            nav = s.page.locator('[data-testid="stSidebarNav"]')
            assert nav.is_visible()
            # the first run may still be the pages/ folder's own one, rerunning through app.py: wait for it
            expect(nav.locator("li").first).to_have_text(re.compile(re.escape(PAGES[0].title) + r"\s*$"), timeout=30_000)
            expect(nav.locator("li")).to_have_count(len(PAGES))
            assert [t.split("\n")[-1].strip() for t in nav.locator("li").all_inner_texts()] == [p.title for p in PAGES]
            s.page.get_by_role("heading", name=TITLES[url_path]).first.wait_for()
            main = s.page.locator('[data-testid="stMainBlockContainer"]').bounding_box()
            assert main["width"] > 850, "the centred layout (at most 736 px): the page config was not applied"
            assert s.page.title() == "cnnedu — CNN explorer"
            assert s.page.get_by_role("button", name="Deploy").count() == 0  # no developer menu for students
        finally:
            context.close()
