"""The classroom load test's client speaks Streamlit's protocol as the browser does (its edits reach the page
script and the page answers them), and a short load of 5 students completes every request without an error
(benchmarks/bench_classroom.py; no timing is asserted: the figures are in the README)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.e2e_helpers import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from st_client import Session, run  # noqa: E402


async def _one_student(url: str) -> list:
    s = Session(url)
    await s.connect()
    try:
        seen = [await s.open("build")]
        seen.append(await s.set_value("Height", 64))
        seen.append(await s.edit_table("layers_", {0: {"settings": "out_channels=6, kernel_size=5, bogus=1"}}))
        return seen
    finally:
        await s.close()


def test_the_protocol_client_edits_the_build_page_as_a_browser_does(app_server):
    results = run(_one_student(app_server))
    assert all(r.status == "FINISHED_SUCCESSFULLY" and not r.exceptions for r in results)
    # LeNet on 3×64×32, by hand: heights 64 → 60 → 30 → 26 → 13, widths 32 → 28 → 14 → 10 → 5, so fc1
    # receives 16·13·5 = 1040 features where it expects 400.
    assert any("16×13×5 = 1040" in a for a in results[1].alerts), results[1].alerts
    assert any("unknown field 'bogus'" in a for a in results[2].alerts), results[2].alerts


def test_five_students_for_twenty_seconds_get_every_page_without_an_error(app_server):
    done = subprocess.run([sys.executable, "benchmarks/bench_classroom.py", "--url", app_server, "--sessions", "5",
                           "--duration", "20", "--json"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (level,) = json.loads(done.stdout)["levels"]
    assert level["errors"] == []
    assert {"first connect", "page load", "build edit (input)", "build edit (table)", "check grade"} <= set(level["actions"])
    assert level["actions"]["first connect"]["count"] == 5
