"""A link to a page (e.g. one an instructor sends: http://server:8501/train) opened first on a freshly
started server shows the app as usual: the sidebar navigation, the wide layout and that page.

Streamlit runs such a first request from the pages/ folder by itself, around app.py's navigation; the
pages' ensure_navigation() (cnnedu/ui/nav.py) sends it back through app.py. Each page gets its own fresh
server, since only the very first request of a server is affected.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from cnnedu.ui.nav import PAGES
from tests.e2e_helpers import REPO_ROOT, VIEWPORT, streamlit_server
from tests.journeys.student import Student

TITLES = {"build": "Build a network", "check": "Check my answer", "train": "Train a network", "runs": "Runs",
          "inside": "Look inside", "predict": "Predict", "scratch": "From scratch"}


@pytest.mark.e2e
@pytest.mark.parametrize("url_path", [p.url_path for p in PAGES if p.url_path])
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
