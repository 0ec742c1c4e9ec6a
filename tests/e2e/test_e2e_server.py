"""The app server the browser tests and journeys use (``app_server``: ``streamlit run app.py`` from the
repository root, as ``./run.sh app`` starts it) runs with the settings a class of 40 needs (issue 12): no
forced garbage collection after every script run, and its imported heap frozen out of the collector's way."""

from __future__ import annotations

import re

from tests.e2e_helpers import assert_no_exception, open_app


def test_the_server_does_not_collect_after_every_run_and_has_frozen_its_imports(app_server, app_server_home,
                                                                                browser_page):
    open_app(browser_page, app_server)  # at least one page run, so the process has done its start-up
    assert_no_exception(browser_page)
    log = (app_server_home / "streamlit.log").read_text(errors="replace")
    # The line the server writes once, with the option's value as Streamlit resolved it in that process
    # (the repository's .streamlit/config.toml; without its [runner] line it would say True) and
    # gc.get_freeze_count() there.
    lines = [line for line in log.splitlines() if "objects frozen out of the garbage collector's way" in line]
    assert len(lines) == 1, log[-3000:]
    assert lines[0].endswith("runner.postScriptGC = False"), lines[0]
    frozen = int(re.search(r"([0-9,]+) objects frozen", lines[0])[1].replace(",", ""))
    # `python -c "import gc, torch; gc.collect(); print(len(gc.get_objects()))"` gives ~185,000 (streamlit
    # alone ~45,000): torch's heap, at least, is frozen.
    assert frozen > 150_000, lines[0]
    assert "collects garbage after every page run" not in log
