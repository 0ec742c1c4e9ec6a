"""A student on the Experiments page, in a real browser (headless Chromium at 1280×720).

J9 (seed 002 Part 1 c): pick seed 002's "Fashion-MNIST's own mean and std against MNIST's", read what it
varies, launch it at the quick scale, watch its two runs go from queued to done, read our accuracy beside
the document's 87.11 % and the mean/std measured on Fashion-MNIST (close to the dataset's published
0.2860 / 0.3530), reload and open the Runs page in a second tab: the same experiment and its runs. A link
naming an experiment that does not exist says so and shows the first one.
"""

from __future__ import annotations

import re
import time

from cnnedu.runs import store
from cnnedu.ui.state import encode
from tests.journeys.student import Student

RESULT = "exp_result"  # the result table's container
DOCUMENT_REPORTED = "87.11%"  # seed 002: CNN3 with MNIST's constants, 8711/10000 correct
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530  # Fashion-MNIST's published pixel mean and std (on [0, 1])


def result_rows(s: Student) -> list[dict[str, str]]:
    """The result table's rows (read again if the table was being redrawn, every 2 s while runs train)."""
    for _attempt in range(10):
        try:
            columns = s.columns(RESULT)
            if "status" in columns:
                return [{c: s.cell(RESULT, r, c) for c in columns} for r in range(s.rows(RESULT))]
        except AssertionError:  # redrawn between reading the header and a cell
            pass
        s.page.wait_for_timeout(300)
    raise AssertionError(f"the result table has no status column: {s.columns(RESULT)}")


def wait_until_done(s: Student, timeout_s: float = 240.0) -> list[dict[str, str]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = result_rows(s)
        if rows and all(r["status"] == "done" for r in rows):
            return rows
        s.page.wait_for_timeout(1000)
    raise AssertionError(f"the experiment's runs did not finish: {result_rows(s)}")


def test_j9_launch_seed_002s_normalization_experiment_and_read_it_beside_the_document(student: Student, app_server_home, monkeypatch):
    s = student
    s.open("experiments")
    s.choose("Document", "Seed 002")
    s.choose("Experiment", "mean and std")
    s.sees("What varies:")
    s.sees(re.compile(r"norm_stats.*MNIST's 0\.1307 / 0\.3081"))
    s.choose("Scale", "quick")
    rows = result_rows(s)
    assert [r["status"] for r in rows] == ["not started", "not started"]
    assert rows[0]["document's"] == DOCUMENT_REPORTED and rows[1]["document's"] == "—"
    s.shot("j9-experiments-picked")
    s.page.locator('[class*="st-key-exp_result"]').first.scroll_into_view_if_needed()

    s.click(re.compile(r"^Run this experiment \(2 runs\)"))
    s.sees(re.compile(r"Queued 2 runs"))
    assert not s.is_enabled(re.compile(r"^Run this experiment"))  # no second launch while it trains
    statuses = {r["status"] for r in result_rows(s)}
    assert statuses <= {"queued", "running", "done"}, statuses
    s.shot("j9-experiments-running")

    rows = wait_until_done(s)
    s.wait()
    s.page.locator('[class*="st-key-exp_result"]').first.scroll_into_view_if_needed()
    s.shot("j9-experiments-done")
    monkeypatch.setenv("CNNEDU_HOME", str(app_server_home))
    runs = {r.id: r for r in store.list_runs()}
    tagged = [r for r in runs.values() if r.config.get("experiment") == "002-norm-stats@quick"]
    assert len(tagged) == 2 and all(r.status == "done" for r in tagged)
    by_norm = {r.config["norm_stats"]: r for r in tagged}
    # our accuracy is the run store's, as the Runs page shows it
    assert rows[0]["our test acc"] == f"{100 * by_norm['mnist'].test_acc:.2f}%"
    assert rows[1]["our test acc"] == f"{100 * by_norm['measured'].test_acc:.2f}%"
    measured = re.search(r"measured ([\d.]+) ± ([\d.]+)", rows[1]["normalisation"])
    assert measured, rows[1]
    assert abs(float(measured.group(1)) - FASHION_MEAN) < 0.03 and abs(float(measured.group(2)) - FASHION_STD) < 0.03
    assert "0.1307" in rows[0]["normalisation"]  # the constants it used
    s.sees("What the document concluded")
    s.sees(re.compile("The task was not done"))
    assert s.is_enabled(re.compile(r"^Run this experiment"))

    s.reload()  # the experiment and the scale are in the address bar
    assert "Seed 002" in s.selected("Document") and "mean and std" in s.selected("Experiment")
    assert [r["our test acc"] for r in result_rows(s)] == [rows[0]["our test acc"], rows[1]["our test acc"]]

    other = s.new_tab(f"{s.base_url}/runs")
    for run in tagged:
        other.sees(run.id)
    other.page.close()

    s.open(f"experiments?exp={encode('002-no-such-thing')}")  # a damaged link
    s.sees(re.compile("names an experiment that does not exist"))
    assert s.errors() == []
    s.shot("j9-experiments-bad-link")
