"""``./run.sh classroom``: several app processes behind HAProxy on one port (cnnedu/classroom.py).

Students are spread over the processes and each stays on its own (a cookie); a student in a real browser
edits the Build page through the proxy, reloads and opens a second tab without losing anything; a run
started on one process is seen from the other (one run store); Ctrl+C stops the proxy and every process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cnnedu.classroom import COOKIE, haproxy_config
from tests.e2e_helpers import REPO_ROOT, VIEWPORT, free_port
from tests.journeys.student import Student

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from st_client import Session, run  # noqa: E402


def _descendants(root: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            if ppid == root:
                out += [int(entry.name), *_descendants(int(entry.name))]
    return out


@pytest.fixture(scope="module")
def classroom(tmp_path_factory) -> Iterator[tuple[str, subprocess.Popen, Path]]:
    home = tmp_path_factory.mktemp("classroom-home")
    port = free_port()
    env = dict(os.environ, CNNEDU_HOME=str(home), PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "cnnedu.classroom", "--workers", "2", "--port", str(port)],
                               cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = process.stdout.readline()  # "classroom: 2 app processes behind http://localhost:PORT ..."
    assert f"2 app processes behind http://localhost:{port}" in line, line + (process.stdout.read() if process.poll() is not None else "")
    try:
        yield f"http://localhost:{port}", process, home
    finally:
        if process.poll() is None:
            process.kill()


def test_the_proxy_configuration_keeps_each_student_on_one_process_and_websockets_open():
    config = haproxy_config("localhost", 8501, [9001, 9002])
    assert "bind 127.0.0.1:8501" in config
    assert f"cookie {COOKIE} insert" in config
    assert "server w1 127.0.0.1:9001 cookie w1" in config and "server w2 127.0.0.1:9002 cookie w2" in config
    assert "timeout tunnel 1h" in config  # a websocket stays open for a whole lesson


async def _students(url: str, n: int) -> list[tuple[str, list]]:
    async def one() -> tuple[str, list]:
        s = Session(url)
        await s.connect()
        try:
            seen = [await s.open("build"), await s.set_value("Height", 64)]
            return s.cookies, seen
        finally:
            await s.close()
    return await asyncio.gather(*(one() for _ in range(n)))


def test_students_are_spread_over_both_processes_and_each_gets_its_pages(classroom):
    url, _, _ = classroom
    results = run(_students(url, 4))
    workers = {cookie for cookie, _ in results}
    assert workers == {f"{COOKIE}=w1", f"{COOKIE}=w2"}
    for _, (opened, edited) in results:
        assert opened.status == "FINISHED_SUCCESSFULLY" and not opened.exceptions
        # LeNet on 3×64×32 by hand: 64 → 60 → 30 → 26 → 13 and 32 → 28 → 14 → 10 → 5: fc1 gets 16·13·5 = 1040
        assert any("16×13×5 = 1040" in a for a in edited.alerts), edited.alerts


def test_a_student_in_a_browser_edits_reloads_and_opens_a_second_tab_through_the_proxy(classroom, chromium):
    url, _, _ = classroom
    context = chromium.new_context(viewport=VIEWPORT)
    try:
        s = Student(context.new_page(), url)
        s.open("build")
        s.type_into("Height", "64")
        s.sees("16×13×5 = 1040")
        s.type_into("Width", "64")
        s.sees(r"16×13×13 = 2704")
        s.shot("classroom-build-through-proxy")
        s.reload()
        assert s.value("Height") == "64" and s.value("Width") == "64"
        other = s.new_tab()  # the same link in a second tab: a new session, maybe on the other process
        assert other.value("Height") == "64"
        other.sees(r"16×13×13 = 2704")
    finally:
        context.close()


def test_a_run_trained_from_a_terminal_is_seen_by_both_processes(classroom):
    url, _, home = classroom

    async def runs_pages() -> list[tuple[str, list[str]]]:
        sessions = []
        try:
            for _ in range(4):  # new students, each kept open: the proxy spreads them over both processes
                sessions.append(Session(url))
                await sessions[-1].connect()
            return [(s.cookies, (await s.open("runs")).alerts) for s in sessions]
        finally:
            for s in sessions:
                await s.close()

    before = run(runs_pages())
    assert {cookie for cookie, _ in before} == {f"{COOKIE}=w1", f"{COOKIE}=w2"}
    assert all(any("No training runs yet" in a for a in alerts) for _, alerts in before)
    done = subprocess.run([sys.executable, "-m", "cnnedu", "train", "--arch", "mnist-cnn", "--dataset", "synthetic",
                           "--epochs", "1", "--n-train", "64"], cwd=REPO_ROOT, capture_output=True, text=True,
                          env=dict(os.environ, CNNEDU_HOME=str(home)), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    after = run(runs_pages())
    assert {cookie for cookie, _ in after} == {f"{COOKIE}=w1", f"{COOKIE}=w2"}
    assert not any(any("No training runs yet" in a for a in alerts) for _, alerts in after)


def test_ctrl_c_stops_the_proxy_and_every_app_process(classroom):
    _, process, _ = classroom
    children = _descendants(process.pid)
    assert len(children) >= 3  # two app processes and the proxy
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0
    time.sleep(0.5)
    alive = [pid for pid in children if Path(f"/proc/{pid}").exists()
             and (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z")]
    assert alive == []
